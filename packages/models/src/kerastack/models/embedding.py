"""The generic embeddings every family uses: `Embedding` (a dense gradient
for its table on every backend) and `ReversibleEmbedding` (tied input and
output embeddings), and HF's tanh-approximated GELU."""

import numpy as np

from kerastack.core import embedding_lookup, keras, ops, serializable

__all__ = ["Embedding", "ReversibleEmbedding", "activation", "gelu_approximate"]


@serializable(name="bert_gelu_approximate")
def gelu_approximate(x):
    """GELU's tanh approximation (HF's "gelu_new" and "gelu_pytorch_tanh").

    Example:

    >>> y = gelu_approximate(np.array([-1.0, 0.0, 1.0], "float32"))
    >>> [round(float(v), 4) for v in y]
    [-0.1588, 0.0, 0.8412]
    """
    return keras.activations.gelu(x, approximate=True)


def activation(name):
    """The Keras activation a config's name means: `"gelu_approximate"` is
    `gelu_approximate` (HF's "gelu_new"), any other name Keras's own.

    Example:

    >>> activation("gelu_approximate") is gelu_approximate
    True
    >>> activation("relu")
    'relu'
    """
    return gelu_approximate if name == "gelu_approximate" else name


@serializable(name="bert_embedding")
class Embedding(keras.layers.Embedding):
    """`keras.layers.Embedding` whose table gets a dense gradient on every
    backend (see `kerastack.core.embedding_lookup`): on TensorFlow, Adam
    then updates the word and segment tables as it does on JAX and PyTorch,
    on one device or several.

    Ids are checked where their values are known (eager calls): ids that
    are not integers, or not in `[0, input_dim)`, are a ValueError naming
    the layer, the id, where it is and the table size. Inside compiled
    functions they are not: see `kerastack.core.embedding_lookup`.

    Example:

    >>> embedding = Embedding(10, 4)
    >>> tuple(embedding(np.array([[1, 9]])).shape)
    (1, 2, 4)
    """

    def call(self, inputs):
        outputs = embedding_lookup(self.embeddings, inputs, name=self.name)  # (B, T, D)
        return ops.cast(outputs, self.compute_dtype)

    def quantize(self, mode=None, type_check=True, config=None):
        """Keras's Embedding quantization ("int8", "int4"), which Keras
        allows its own class only: the quantized table is looked up as
        Keras's (ids unchecked), for inference. Other modes are Keras's
        NotImplementedError, so `model.quantize("float8")` leaves the table
        in float, as does a config whose weight quantizer does not take
        per-row scales (axis -1), which Keras's Embedding cannot use."""
        quantizer = getattr(config, "weight_quantizer", None)
        axis = getattr(quantizer, "axis", (-1,))
        if quantizer is not None and tuple(np.atleast_1d(axis).tolist()) not in ((-1,), (1,)):
            raise NotImplementedError(
                f"{type(self).__name__} {self.name!r} stays in float: its table takes per-row "
                f"scales (axis -1), and the config's weight quantizer has axis {axis}."
            )
        super().quantize(mode, type_check=False, config=config)

    @property
    def embeddings(self):
        """The table `(V, D)`; of a quantized layer, dequantized (as its
        lookups are), so a head tied to it (`MaskedLMHead`, reversed
        embeddings) computes with the values the lookups give."""
        if self.quantization_mode is not None:
            return self.quantized_call(ops.arange(self.input_dim, dtype="int32"))
        if self.lora_enabled or not self.built:
            return super().embeddings
        return self._embeddings  # torch.compile cannot trace Keras's property through `super()`


@serializable
class ReversibleEmbedding(Embedding):
    """A token embedding that also gives output logits with the same table
    (tied input and output embeddings, Press and Wolf, 2017).

    Called on token ids it looks them up, `(B, T) -> (B, T, D)`, with a
    dense gradient for the table on every backend (as kerastack-bert's
    embeddings). Called with `reverse=True` on hidden states it projects
    them back onto the vocabulary, `(B, T, D) -> (B, T, V)`:
    `logits = x @ table^T`, computed in the layer's compute dtype and
    returned in float32 (also under mixed precision).

    Letters: B batch, T length, D `output_dim`, V `input_dim`.

    Args:
        input_dim: int, the vocabulary size V.
        output_dim: int, the embedding width D.
        **kwargs: `keras.layers.Embedding` arguments
            (`embeddings_initializer`, `name`, `dtype`, ...).

    Call arguments:
        inputs: int token ids `(B, T)`, or hidden states `(B, T, D)` with
            `reverse=True`.
        reverse: bool, project hidden states onto the vocabulary.

    Example:

    >>> embedding = ReversibleEmbedding(100, 16)
    >>> x = embedding(np.array([[1, 2, 3]]))  # (1, 3, 16)
    >>> tuple(embedding(x, reverse=True).shape)
    (1, 3, 100)

    References:
        - [Press and Wolf, 2017](https://arxiv.org/abs/1608.05859)
        - `keras.layers.ReversibleEmbedding` (Keras 3.12 and later)
    """

    def call(self, inputs, reverse=False):
        if not reverse:
            return super().call(inputs)  # (B, T, D)
        table = ops.cast(self.embeddings, self.compute_dtype)  # (V, D)
        hidden = ops.cast(inputs, self.compute_dtype)  # (B, T, D)
        logits = ops.matmul(hidden, ops.transpose(table))  # (B, T, V)
        return ops.cast(logits, "float32")

    def quantized_call(self, inputs, reverse=False, **kwargs):
        # A quantized layer's calls come here (Keras's `Layer.__call__`).
        if not reverse:
            return super().quantized_call(inputs, **kwargs)
        return self.call(inputs, reverse=True)  # with the dequantized table

    def compute_output_shape(self, input_shape, reverse=False):
        if reverse:
            return tuple(input_shape[:-1]) + (self.input_dim,)
        return tuple(input_shape) + (self.output_dim,)

    def compute_output_spec(self, inputs, reverse=False):
        shape = self.compute_output_shape(tuple(inputs.shape), reverse)
        return keras.KerasTensor(shape, dtype="float32" if reverse else self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        return None
