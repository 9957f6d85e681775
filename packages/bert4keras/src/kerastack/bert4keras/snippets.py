"""bert4keras's `snippets` module on kerastack (Keras 3)."""

__all__ = []
