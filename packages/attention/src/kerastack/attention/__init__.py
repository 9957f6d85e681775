"""kerastack-attention: self-attention, attention pooling and scaled
dot-product attention for Keras, on every backend."""

from kerastack.attention import functional
from kerastack.attention.masks import (
    causal_attention_mask,
    packed_attention_mask,
    padding_attention_mask,
    prefix_lm_attention_mask,
)
from kerastack.attention.scaled_dot_product_attention import ScaledDotProductAttention
from kerastack.attention.self_attention import SelfAttention
from kerastack.attention.weighted_attention import WeightedAttention

__all__ = [
    "ScaledDotProductAttention",
    "SelfAttention",
    "WeightedAttention",
    "causal_attention_mask",
    "functional",
    "packed_attention_mask",
    "padding_attention_mask",
    "prefix_lm_attention_mask",
]
