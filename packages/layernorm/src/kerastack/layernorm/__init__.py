"""kerastack-layernorm: layer and RMS normalization for Keras 3 on every
backend, with float32 statistics under mixed precision."""

from kerastack.layernorm.layer_normalization import LayerNormalization
from kerastack.layernorm.rms_normalization import RMSNormalization

__all__ = [
    "LayerNormalization",
    "RMSNormalization",
]
