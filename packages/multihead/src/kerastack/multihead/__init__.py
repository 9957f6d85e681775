"""kerastack-multihead: multi-head attention and a wrapper that runs copies
of any layer side by side, for Keras on every backend."""

from kerastack.multihead.multi_head import MultiHead
from kerastack.multihead.multi_head_attention import MultiHeadAttention

__all__ = ["MultiHead", "MultiHeadAttention"]
