"""bert4keras's `tokenizers` module on kerastack (Keras 3)."""

__all__ = []
