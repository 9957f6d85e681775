"""kerastack-nezha: NEZHA on every Keras 3 backend (issue 21, in progress)."""

__all__ = []
