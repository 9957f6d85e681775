"""kerastack-gpt: GPT-2-style causal language models on every Keras 3 backend."""

from kerastack.gpt.convert_hf import FusedWeights, gpt2_weight_table, load_gpt2_weights
from kerastack.gpt.gpt2_backbone import GPT2Backbone
from kerastack.gpt.gpt2_causal_lm import GPT2CausalLM
from kerastack.gpt.gpt2_config import GPT2Config
from kerastack.models import ReversibleEmbedding
from kerastack.tokenizers import GPT2Tokenizer

__all__ = [
    "FusedWeights",
    "GPT2Backbone",
    "GPT2CausalLM",
    "GPT2Config",
    "GPT2Tokenizer",
    "ReversibleEmbedding",
    "gpt2_weight_table",
    "load_gpt2_weights",
]
