"""Task heads every encoder family shares: `MaskedLMHead` (masked-LM logits
with the output projection tied to the word embeddings) and `float32_dense`
(float32 logits under any dtype policy)."""

from kerastack.core import keras, ops, serializable
from kerastack.layernorm import LayerNormalization
from kerastack.models.embedding import activation as get_activation

__all__ = ["MaskedLMHead", "float32_dense"]


def _initializer(backbone):
    return keras.initializers.TruncatedNormal(stddev=backbone.initializer_range)


@serializable
class MaskedLMHead(keras.layers.Layer):
    """Masked-language-model logits at chosen positions, with the output
    projection tied to the word embeddings (BERT's `cls.predictions`).

    Call arguments:
        sequence: `(B, T, D)`, the backbone's sequence output.
        mask_positions: int `(B, P)`, the positions to predict; every
            position (`P = T`) when None (a language model's logits).

    Returns: float32 logits `(B, P, V)`.

    Example:

    >>> table = keras.layers.Embedding(50, 8)
    >>> table.build((None,))
    >>> head = MaskedLMHead(table)
    >>> sequence = np.random.default_rng(0).random((2, 6, 8), "float32")  # (B, T, D)
    >>> tuple(head(sequence, np.array([[1, 4], [0, 5]])).shape)  # (B, P, V)
    (2, 2, 50)
    """

    def __init__(self, token_embedding, activation="gelu", layer_norm_epsilon=1e-12, **kwargs):
        super().__init__(**kwargs)
        self.token_embedding = token_embedding
        self.activation = keras.activations.get(get_activation(activation))
        self.layer_norm_epsilon = layer_norm_epsilon

    def build(self, sequence_shape, mask_positions_shape=None):
        width = sequence_shape[-1]
        self.dense = keras.layers.Dense(width, dtype=self.dtype_policy, name="transform_dense")
        self.dense.build((None, None, width))
        self.layer_norm = LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="transform_layer_norm"
        )
        self.layer_norm.build((None, None, width))
        self.bias = self.add_weight(
            name="output_bias", shape=(self.token_embedding.input_dim,), initializer="zeros"
        )

    def call(self, sequence, mask_positions=None):
        x = sequence  # (B, T, D)
        if mask_positions is not None:
            positions = ops.expand_dims(ops.cast(mask_positions, "int32"), -1)  # (B, P, 1)
            x = ops.take_along_axis(sequence, positions, axis=1)  # (B, P, D)
        x = self.layer_norm(self.activation(self.dense(x)))
        table = ops.cast(self.token_embedding.embeddings, "float32")  # (V, D)
        logits = ops.matmul(ops.cast(x, "float32"), ops.transpose(table))
        return logits + ops.cast(self.bias, "float32")  # (B, P, V)

    def get_config(self):
        raise NotImplementedError(
            "MaskedLMHead is tied to a backbone's embeddings; save the BertPretrainer holding it."
        )


def float32_dense(units, backbone, name, activation=None):
    """A `Dense` layer of float32 logits (also under mixed precision),
    initialized from `backbone.initializer_range` as the backbone's own
    weights: the output layer of every task head.

    Example:

    >>> class Settings:
    ...     initializer_range = 0.02
    >>> layer = float32_dense(3, Settings(), "classifier")
    >>> keras.backend.standardize_dtype(layer(np.ones((2, 8), "float16")).dtype)
    'float32'
    """
    return keras.layers.Dense(
        units,
        activation=activation,
        kernel_initializer=_initializer(backbone),
        dtype="float32",  # logits in float32 under mixed precision
        name=name,
    )
