"""kerastack-models: the model kit every family builds on.

- Checkpoints: HF safetensors (one file, or shards and their index:
  `read_sharded_safetensors`) and PyTorch files (`read_checkpoint_tensors`,
  `read_safetensors`), Google's TensorFlow checkpoints (`read_tf_checkpoint`,
  no TensorFlow needed), one way to declare a family's weights (a table of
  `(variable, hf_name, Layout)` returned by the model's `hf_weight_table()`),
  strict all-or-nothing loading (`assign_hf_tensors`) and atomic writing
  (`write_checkpoint`).
- Configs: `ModelConfig` and `ConfigField`, validated and explicit.
- Model bases: `Pretrained` (`from_pretrained`, once for every family),
  `SavedByArguments` (backbones), `TaskModel` (task models), `keep_dtype_policy`.
- Raw text in: `TextClassifierPreprocessor` (a tokenizer and a sequence
  length, saved with the model), which a task model takes as
  `preprocessor=` to `fit` / `predict` / `evaluate` on strings through
  `TextBatches` (a PyDataset); `is_text`.
- LoRA: `LoraMixin` (every backbone's `enable_lora`, `save_lora_weights`,
  `load_lora_weights`).
- Generic layers: `Embedding`, `ReversibleEmbedding`, `MaskedLMHead`,
  `ConditionalRandomField` (a tagger's CRF head), `float32_dense`,
  `gelu_approximate`.
- One entry point for every family: `from_pretrained(path, task=None)`
  builds whichever installed family's model a checkpoint's `model_type`
  names (families register as `"kerastack.models"` entry points;
  `model_types()` lists them).
- keras-hub presets (`load_keras_hub_preset`, `load_keras_hub_tokenizer`,
  `read_keras_weights`, `keras_hub_block_weight_table`,
  `is_keras_hub_preset`, `keras_hub_class_name`): a
  folder keras-hub's `save_to_preset` wrote loads into the kerastack
  backbone and tokenizer of the family that registers its classes
  (`"kerastack.keras_hub"` entry points).
- Files and the Hub: `checkpoint_folder`, `read_json_object` (from
  kerastack-tokenizers, which needs no Keras).
"""

from kerastack.models.base import Pretrained, SavedByArguments, TaskModel, keep_dtype_policy
from kerastack.models.checkpoints import (
    POOLER_TENSORS,
    SAME,
    TRANSPOSE,
    Layout,
    assign_hf_tensors,
    attention_head_layouts,
    block_weight_table,
    read_checkpoint_tensors,
    read_safetensors,
    read_sharded_safetensors,
    write_checkpoint,
)
from kerastack.models.config import MAX_COUNT, MAX_SIZE, ConfigField, ModelConfig
from kerastack.models.crf import ConditionalRandomField
from kerastack.models.embedding import (
    Embedding,
    ReversibleEmbedding,
    activation,
    gelu_approximate,
)
from kerastack.models.heads import MaskedLMHead, float32_dense
from kerastack.models.keras_hub_presets import (
    KERAS_HUB_GROUP,
    is_keras_hub_preset,
    keras_hub_block_weight_table,
    keras_hub_class_name,
    load_keras_hub_preset,
    load_keras_hub_tokenizer,
    read_keras_weights,
)
from kerastack.models.lora import LoraMixin
from kerastack.models.model_types import TASKS, from_pretrained, model_types
from kerastack.models.preprocessing import TextBatches, TextClassifierPreprocessor, is_text
from kerastack.models.tf_checkpoint import CheckpointError, checkpoint_prefix, read_tf_checkpoint
from kerastack.tokenizers import checkpoint_folder, read_json_object

__all__ = [
    "KERAS_HUB_GROUP",
    "MAX_COUNT",
    "MAX_SIZE",
    "POOLER_TENSORS",
    "SAME",
    "TASKS",
    "TRANSPOSE",
    "CheckpointError",
    "ConditionalRandomField",
    "ConfigField",
    "Embedding",
    "Layout",
    "LoraMixin",
    "MaskedLMHead",
    "ModelConfig",
    "Pretrained",
    "ReversibleEmbedding",
    "SavedByArguments",
    "TaskModel",
    "TextBatches",
    "TextClassifierPreprocessor",
    "activation",
    "assign_hf_tensors",
    "attention_head_layouts",
    "block_weight_table",
    "checkpoint_folder",
    "checkpoint_prefix",
    "float32_dense",
    "from_pretrained",
    "gelu_approximate",
    "is_keras_hub_preset",
    "is_text",
    "keep_dtype_policy",
    "keras_hub_block_weight_table",
    "keras_hub_class_name",
    "load_keras_hub_preset",
    "load_keras_hub_tokenizer",
    "model_types",
    "read_checkpoint_tensors",
    "read_json_object",
    "read_keras_weights",
    "read_safetensors",
    "read_sharded_safetensors",
    "read_tf_checkpoint",
    "write_checkpoint",
]
