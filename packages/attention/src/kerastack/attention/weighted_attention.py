from kerastack.attention import functional
from kerastack.core import keras, ops, serializable, static_shape


@serializable
class WeightedAttention(keras.layers.Layer):
    """Attention pooling: a sequence `(B, T, D)` becomes one vector `(B, D)`.

    Each position gets a learned score `e[t] = x[t] . w + b`; the output is
    `sum_t a[t] x[t]` with `a = softmax(e)` over the real (unpadded)
    positions. A sequence with no real position gives zeros.

    Letters: B batch, T sequence length, D feature size.

    Args:
        use_bias: bool, whether the score has a bias `b`.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: for the
            score weights, as in `keras.layers.Dense`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(B, T, D)`.
        mask: `(B, T)` boolean Keras mask, True for real positions.
        return_attention_scores: bool, also return the `(B, T)` weights.

    Example:

    >>> inputs = keras.Input((None,), dtype="int32")
    >>> x = keras.layers.Embedding(1000, 32, mask_zero=True)(inputs)
    >>> x = WeightedAttention()(x)  # (B, 32)
    >>> outputs = keras.layers.Dense(2, activation="softmax")(x)
    """

    def __init__(
        self,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        functional.check_rank(self, "inputs", input_shape, (3,))
        self.score_dense = keras.layers.Dense(
            1,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            kernel_constraint=self.kernel_constraint,
            bias_constraint=self.bias_constraint,
            dtype=self.dtype_policy,
            name="score",
        )
        self.score_dense.build(input_shape)

    def call(self, inputs, mask=None, return_attention_scores=False):
        functional.check_floating(self, inputs=inputs)
        functional.check_mask_shape(self, "mask", mask, static_shape(inputs)[:2])
        scores = ops.squeeze(self.score_dense(inputs), -1)  # (B, T)
        weights = functional.masked_softmax(scores, mask)  # (B, T)
        if mask is not None:  # masked weights are 0, but 0 * NaN is NaN
            inputs = ops.where(ops.expand_dims(ops.cast(mask, "bool"), -1), inputs, 0.0)
        outputs = ops.einsum("bt,btd->bd", weights, inputs)  # (B, D)
        if return_attention_scores:
            return outputs, weights
        return outputs

    def compute_mask(self, inputs, previous_mask=None):
        return None  # one vector per sequence: no time axis left to mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            }
        )
        return config
