"""bert4keras's `layers` module on kerastack (Keras 3)."""

__all__ = []
