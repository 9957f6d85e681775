"""bert4keras's `backend` module on kerastack (Keras 3)."""

__all__ = []
