"""kerastack-gpt: GPT-2 and OpenAI GPT (GPT-1) causal language models on every
Keras 3 backend."""

from kerastack.gpt.convert_hf import FusedWeights, gpt2_weight_table, load_gpt2_weights
from kerastack.gpt.gpt2_backbone import GPT2Backbone
from kerastack.gpt.gpt2_causal_lm import GPT2CausalLM
from kerastack.gpt.gpt2_config import GPT2Config
from kerastack.gpt.keras_hub_preset import (
    gpt2_from_keras_hub,
    gpt2_keras_hub_weight_table,
    gpt2_tokenizer_from_keras_hub,
)
from kerastack.gpt.openai_gpt_backbone import OpenAIGPTBackbone
from kerastack.gpt.openai_gpt_causal_lm import OpenAIGPTCausalLM
from kerastack.gpt.openai_gpt_config import OpenAIGPTConfig
from kerastack.gpt.openai_gpt_weights import (
    load_openai_gpt_weights,
    load_openai_params,
    openai_gpt_weight_table,
    read_openai_params,
    save_openai_gpt_weights,
    save_openai_params,
)
from kerastack.models import ReversibleEmbedding
from kerastack.tokenizers import GPT2Tokenizer, OpenAIGPTTokenizer

__all__ = [
    "FusedWeights",
    "GPT2Backbone",
    "GPT2CausalLM",
    "GPT2Config",
    "GPT2Tokenizer",
    "OpenAIGPTBackbone",
    "OpenAIGPTCausalLM",
    "OpenAIGPTConfig",
    "OpenAIGPTTokenizer",
    "ReversibleEmbedding",
    "gpt2_from_keras_hub",
    "gpt2_keras_hub_weight_table",
    "gpt2_tokenizer_from_keras_hub",
    "gpt2_weight_table",
    "load_gpt2_weights",
    "load_openai_gpt_weights",
    "load_openai_params",
    "openai_gpt_weight_table",
    "read_openai_params",
    "save_openai_gpt_weights",
    "save_openai_params",
]
