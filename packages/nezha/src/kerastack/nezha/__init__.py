"""kerastack-nezha: NEZHA (Wei et al., 2019) on every Keras 3 backend.

BERT's post-norm encoder with functional relative positions instead of an
absolute position table: `NezhaBackbone`, its config (`NezhaConfig`, from
HF's `config.json` or Huawei's `bert_config.json`), its weight table, the
task models (`NezhaMaskedLM`, `NezhaClassifier`, `NezhaTokenClassifier`,
`NezhaQuestionAnswerer`), loading Huawei's TensorFlow checkpoints without
TensorFlow (`load_huawei_checkpoint`) and HF files both ways
(`load_hf_weights`, `save_hf_weights`). The tokenizer is BERT's WordPiece,
`BertTokenizer` (re-exported from kerastack-tokenizers).
"""

from kerastack.nezha.convert_hf import load_hf_weights, save_hf_weights
from kerastack.nezha.convert_huawei import huawei_to_hf_name, load_huawei_checkpoint
from kerastack.nezha.heads import (
    NezhaClassifier,
    NezhaMaskedLM,
    NezhaQuestionAnswerer,
    NezhaTokenClassifier,
)
from kerastack.nezha.nezha_backbone import NezhaBackbone
from kerastack.nezha.nezha_config import NezhaConfig
from kerastack.nezha.nezha_weights import weight_table
from kerastack.tokenizers import BertTokenizer

__all__ = [
    "BertTokenizer",
    "NezhaBackbone",
    "NezhaClassifier",
    "NezhaConfig",
    "NezhaMaskedLM",
    "NezhaQuestionAnswerer",
    "NezhaTokenClassifier",
    "huawei_to_hf_name",
    "load_hf_weights",
    "load_huawei_checkpoint",
    "save_hf_weights",
    "weight_table",
]
