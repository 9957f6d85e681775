"""kerastack-position: learned, sinusoidal and rotary position embeddings for
Keras, on every backend."""

from kerastack.position.position_embedding import PositionEmbedding
from kerastack.position.rotary_embedding import RotaryEmbedding
from kerastack.position.sine_position_encoding import SinePositionEncoding

__all__ = [
    "PositionEmbedding",
    "RotaryEmbedding",
    "SinePositionEncoding",
]
