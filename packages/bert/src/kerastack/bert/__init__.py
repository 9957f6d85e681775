"""kerastack-bert: BERT on every Keras 3 backend, built from kerastack layers."""

from kerastack.bert.albert_backbone import AlbertBackbone
from kerastack.bert.albert_tokenizer import AlbertTokenizer
from kerastack.bert.bert_backbone import BertBackbone
from kerastack.bert.bert_config import (
    AlbertConfig,
    BertConfig,
    ConfigField,
    ModelConfig,
    RobertaConfig,
)
from kerastack.bert.byte_pair_tokenizer import BytePairTokenizer, RobertaTokenizer
from kerastack.bert.convert_google import google_to_hf_name, load_google_checkpoint
from kerastack.bert.convert_hf import (
    Layout,
    assign_hf_tensors,
    checkpoint_folder,
    load_hf_weights,
    read_checkpoint_tensors,
    read_safetensors,
    save_hf_weights,
    weight_table,
)
from kerastack.bert.features import extract_embeddings, iter_embeddings
from kerastack.bert.heads import (
    BertClassifier,
    BertPretrainer,
    BertQuestionAnswerer,
    BertTokenClassifier,
    MaskedLMHead,
)
from kerastack.bert.layout import get_layout_map
from kerastack.bert.multitask import (
    BertMultiTask,
    Task,
    TaskWeightSchedule,
    TaskWeightScheduler,
    TaskWeightShift,
    default_task_loss,
    first_piece_mask,
)
from kerastack.bert.optimization import WarmupLinearDecay, bert_optimizer
from kerastack.bert.optimizers import (
    AccumulationSchedule,
    GradientAccumulation,
    LayerAdaptation,
    LearningRateMultipliers,
    OptimizerWrapper,
    PiecewiseLinear,
    ema_weights,
    layer_decay_multipliers,
)
from kerastack.bert.pretraining import (
    BertPretrainingDataset,
    BertPretrainingFileDataset,
    mask_tokens,
)
from kerastack.bert.roberta_backbone import RobertaBackbone
from kerastack.bert.tf_checkpoint import CheckpointError, read_tf_checkpoint
from kerastack.bert.tokenizer import BertTokenizer, read_vocabulary

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
    "AlbertConfig",
    "AlbertTokenizer",
    "BytePairTokenizer",
    "RobertaBackbone",
    "RobertaConfig",
    "RobertaTokenizer",
    "BertBackbone",
    "BertClassifier",
    "BertPretrainer",
    "BertPretrainingDataset",
    "BertPretrainingFileDataset",
    "BertQuestionAnswerer",
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
