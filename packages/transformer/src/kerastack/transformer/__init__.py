"""kerastack-transformer: feed-forward networks, transformer encoder and
decoder blocks, an encoder-decoder model and cached decoding (`decode` for
encoder-decoder models, `generate` for decoder-only ones)."""

from kerastack.transformer.decoding import decode, generate
from kerastack.transformer.feed_forward import FeedForward
from kerastack.transformer.layout import get_layout_map
from kerastack.transformer.seq2seq import Seq2SeqTransformer
from kerastack.transformer.transformer_decoder import TransformerDecoder
from kerastack.transformer.transformer_encoder import TransformerEncoder

__all__ = [
    "FeedForward",
    "Seq2SeqTransformer",
    "TransformerDecoder",
    "TransformerEncoder",
    "decode",
    "generate",
    "get_layout_map",
]
