"""kerastack-roformer: RoFormer (v1, HF's `roformer`) and RoFormer-v2
(Zhuiyi's) on every Keras 3 backend, with the rotary position embedding in
every attention layer; loads HF checkpoints and Zhuiyi's TensorFlow ones
(no TensorFlow needed) and exports back to HF's layout.

The tokenizer is BERT's WordPiece (`BertTokenizer`, re-exported here),
which cuts CJK characters apart (Zhuiyi's character-level models); HF's
`RoFormerTokenizer` for word-level vocabularies first segments Chinese text
into words with jieba, which kerastack leaves to the user."""

from kerastack.roformer.convert_hf import save_hf_weights
from kerastack.roformer.heads import (
    RoFormerClassifier,
    RoFormerMaskedLM,
    RoFormerQuestionAnswerer,
    RoFormerTokenClassifier,
)
from kerastack.roformer.roformer_backbone import RoFormerBackbone, RoFormerV2Backbone
from kerastack.roformer.roformer_config import RoFormerConfig, RoFormerV2Config
from kerastack.roformer.roformer_encoder import RoFormerEncoder
from kerastack.roformer.roformer_weights import (
    bert4keras_to_hf_name,
    load_roformer_checkpoint,
    sinusoidal_table,
    weight_table,
)
from kerastack.tokenizers import BertTokenizer

__all__ = [
    "BertTokenizer",
    "RoFormerBackbone",
    "RoFormerClassifier",
    "RoFormerConfig",
    "RoFormerEncoder",
    "RoFormerMaskedLM",
    "RoFormerQuestionAnswerer",
    "RoFormerTokenClassifier",
    "RoFormerV2Backbone",
    "RoFormerV2Config",
    "bert4keras_to_hf_name",
    "load_roformer_checkpoint",
    "save_hf_weights",
    "sinusoidal_table",
    "weight_table",
]
