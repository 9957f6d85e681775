"""kerastack-t5: T5, T5.1.1 and mT5 encoder-decoders on every Keras 3 backend."""

from kerastack.t5.convert_google import google_name, load_t5_google_weights
from kerastack.t5.convert_hf import (
    load_t5_weights,
    save_t5_checkpoint,
    t5_config_dict,
    t5_hf_tensors,
    t5_weight_table,
)
from kerastack.t5.t5_attention import T5Attention
from kerastack.t5.t5_backbone import T5Backbone
from kerastack.t5.t5_block import T5Block
from kerastack.t5.t5_config import MT5Config, T5Config, read_t5_config
from kerastack.t5.t5_relative_position_bias import (
    T5RelativePositionBias,
    relative_position_bucket,
)
from kerastack.t5.t5_seq2seq_lm import T5Seq2SeqLM
from kerastack.tokenizers import T5Tokenizer

__all__ = [
    "MT5Config",
    "T5Attention",
    "T5Backbone",
    "T5Block",
    "T5Config",
    "T5RelativePositionBias",
    "T5Seq2SeqLM",
    "T5Tokenizer",
    "google_name",
    "load_t5_google_weights",
    "load_t5_weights",
    "read_t5_config",
    "relative_position_bucket",
    "save_t5_checkpoint",
    "t5_config_dict",
    "t5_hf_tensors",
    "t5_weight_table",
]
