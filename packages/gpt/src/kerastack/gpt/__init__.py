"""kerastack-gpt: GPT-2-style causal language models on every Keras 3 backend."""

__all__ = []
