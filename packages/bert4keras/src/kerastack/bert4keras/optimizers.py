"""bert4keras's `optimizers` module on kerastack (Keras 3)."""

__all__ = []
