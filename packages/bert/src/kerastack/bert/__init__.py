"""kerastack-bert: BERT, RoBERTa (with XLM-RoBERTa and CamemBERT) and ALBERT
on every Keras 3 backend, on the kerastack model kit (`kerastack.models`)."""

from kerastack.bert.albert_backbone import AlbertBackbone
from kerastack.bert.bert_backbone import BertBackbone
from kerastack.bert.bert_config import (
    AlbertConfig,
    BertConfig,
    CamembertConfig,
    RobertaConfig,
    XLMRobertaConfig,
)
from kerastack.bert.bert_weights import weight_table
from kerastack.bert.convert_google import google_to_hf_name, load_google_checkpoint
from kerastack.bert.convert_hf import hf_config, load_hf_weights, save_hf_weights
from kerastack.bert.encoder_heads import (
    AlbertClassifier,
    AlbertMaskedLM,
    AlbertQuestionAnswerer,
    AlbertTokenClassifier,
    RobertaClassifier,
    RobertaMaskedLM,
    RobertaQuestionAnswerer,
    RobertaTokenClassifier,
)
from kerastack.bert.features import extract_embeddings, iter_embeddings
from kerastack.bert.heads import (
    BertClassifier,
    BertPretrainer,
    BertQuestionAnswerer,
    BertTokenClassifier,
)
from kerastack.bert.keras_hub_preset import (
    albert_from_keras_hub,
    albert_keras_hub_weight_table,
    bert_from_keras_hub,
    bert_tokenizer_from_keras_hub,
    keras_hub_weight_table,
)
from kerastack.bert.language_models import BertCausalLM, BertSeq2SeqLM
from kerastack.bert.layout import get_layout_map
from kerastack.bert.pretraining import (
    BertPretrainingDataset,
    BertPretrainingFileDataset,
    mask_tokens,
)
from kerastack.bert.roberta_backbone import RobertaBackbone
from kerastack.bert.xlm_roberta_backbone import CamembertBackbone, XLMRobertaBackbone

# Names kerastack-bert exported before the kit, the tokenizers and the
# training tools became packages of their own: the same objects, re-exported
# so that users' imports keep working.
from kerastack.models import (
    CheckpointError,
    ConfigField,
    Layout,
    MaskedLMHead,
    ModelConfig,
    assign_hf_tensors,
    checkpoint_folder,
    read_checkpoint_tensors,
    read_safetensors,
    read_tf_checkpoint,
)
from kerastack.tokenizers import (
    AlbertTokenizer,
    BertTokenizer,
    BytePairTokenizer,
    RobertaTokenizer,
    read_vocabulary,
)
from kerastack.training import (
    AccumulationSchedule,
    BertMultiTask,
    GradientAccumulation,
    LayerAdaptation,
    LearningRateMultipliers,
    OptimizerWrapper,
    PiecewiseLinear,
    Task,
    TaskWeightSchedule,
    TaskWeightScheduler,
    TaskWeightShift,
    WarmupLinearDecay,
    bert_optimizer,
    default_task_loss,
    ema_weights,
    first_piece_mask,
    layer_decay_multipliers,
)

__all__ = [
    "BertMultiTask",
    "Task",
    "TaskWeightSchedule",
    "TaskWeightScheduler",
    "TaskWeightShift",
    "default_task_loss",
    "first_piece_mask",
    "AccumulationSchedule",
    "GradientAccumulation",
    "LayerAdaptation",
    "LearningRateMultipliers",
    "OptimizerWrapper",
    "PiecewiseLinear",
    "ema_weights",
    "layer_decay_multipliers",
    "AlbertBackbone",
    "AlbertClassifier",
    "AlbertMaskedLM",
    "AlbertQuestionAnswerer",
    "AlbertTokenClassifier",
    "albert_from_keras_hub",
    "albert_keras_hub_weight_table",
    "bert_from_keras_hub",
    "bert_tokenizer_from_keras_hub",
    "keras_hub_weight_table",
    "CamembertBackbone",
    "CamembertConfig",
    "RobertaClassifier",
    "RobertaMaskedLM",
    "RobertaQuestionAnswerer",
    "RobertaTokenClassifier",
    "XLMRobertaBackbone",
    "XLMRobertaConfig",
    "hf_config",
    "AlbertConfig",
    "AlbertTokenizer",
    "BytePairTokenizer",
    "RobertaBackbone",
    "RobertaConfig",
    "RobertaTokenizer",
    "BertBackbone",
    "BertCausalLM",
    "BertClassifier",
    "BertPretrainer",
    "BertPretrainingDataset",
    "BertPretrainingFileDataset",
    "BertQuestionAnswerer",
    "BertSeq2SeqLM",
    "BertTokenClassifier",
    "MaskedLMHead",
    "WarmupLinearDecay",
    "bert_optimizer",
    "BertConfig",
    "ConfigField",
    "ModelConfig",
    "BertTokenizer",
    "CheckpointError",
    "extract_embeddings",
    "get_layout_map",
    "iter_embeddings",
    "mask_tokens",
    "google_to_hf_name",
    "load_google_checkpoint",
    "load_hf_weights",
    "Layout",
    "assign_hf_tensors",
    "checkpoint_folder",
    "read_checkpoint_tensors",
    "read_vocabulary",
    "read_safetensors",
    "read_tf_checkpoint",
    "save_hf_weights",
    "weight_table",
]
