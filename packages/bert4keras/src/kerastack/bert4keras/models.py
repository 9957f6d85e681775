"""bert4keras's `models` module on kerastack (Keras 3)."""

__all__ = []
