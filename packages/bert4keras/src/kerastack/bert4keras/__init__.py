"""kerastack-bert4keras: bert4keras's API on kerastack (Keras 3: TensorFlow,
JAX, PyTorch).

Its modules mirror bert4keras's (`tokenizers`, `snippets`, `backend`,
`layers`, `models`, `optimizers`): import from them as bert4keras code does,
with `bert4keras.` replaced by `kerastack.bert4keras.`. The package itself
exports nothing, as bert4keras's does not.
"""

__all__ = []
