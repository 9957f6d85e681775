"""kerastack-t5: T5 on every Keras 3 backend (issue 21, in progress)."""

__all__ = []
