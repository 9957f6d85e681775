"""kerastack-bert4keras: bert4keras's API on kerastack (Keras 3: TensorFlow,
JAX, PyTorch).

Its modules mirror bert4keras's: import from them as bert4keras code does,
with `bert4keras.` replaced by `kerastack.bert4keras.` (`from
kerastack.bert4keras.tokenizers import Tokenizer`).
"""

from kerastack.bert4keras import backend, layers, models, optimizers, snippets, tokenizers

__all__ = ["backend", "layers", "models", "optimizers", "snippets", "tokenizers"]
