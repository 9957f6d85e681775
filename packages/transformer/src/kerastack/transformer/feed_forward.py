from kerastack.core import check_int, keras, serializable
from kerastack.transformer import _common


@serializable
class FeedForward(keras.layers.Layer):
    """Position-wise feed-forward network: dense, activation, dropout, dense.

    `output(x) = W2 · dropout(act(W1 · x))`, applied to each position alone.
    With `gated=True` it is a gated linear unit (Shazeer, 2020):
    `W2 · dropout(act(W1 · x) * (Wg · x))` — GEGLU with `activation="gelu"`,
    SwiGLU with `activation="silu"`, ReGLU with `"relu"`.

    Letters: B batch, T length, D input width, F `intermediate_dim`,
    O output width.

    Args:
        intermediate_dim: int, width of the hidden layer (F).
        activation: activation of the hidden layer: `"relu"` (default, as in
            the original transformer), `"gelu"`, `"silu"`/`"swish"`, or any
            Keras activation.
        gated: bool, whether the hidden layer is gated (GLU variants).
        dropout: float, dropout rate on the hidden layer in training.
        output_dim: int, output width; the input width when None.
        use_bias: bool, whether the dense layers have biases.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: for the dense
            layers, as in `keras.layers.Dense`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Example:

    >>> x = np.random.rand(2, 10, 16).astype("float32")
    >>> tuple(FeedForward(intermediate_dim=64, activation="gelu", gated=True)(x).shape)
    (2, 10, 16)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
        - [Shazeer, 2020, GLU Variants Improve Transformer](https://arxiv.org/abs/2002.05202)
    """

    def __init__(
        self,
        intermediate_dim,
        activation="relu",
        gated=False,
        dropout=0.0,
        output_dim=None,
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
        intermediate_dim = check_int("intermediate_dim", intermediate_dim)
        output_dim = check_int("output_dim", output_dim, allow_none=True)
        dropout = _common.check_dropout(dropout)
        self.intermediate_dim = intermediate_dim
        self.activation = keras.activations.get(activation)
        self.gated = gated
        self.dropout = dropout
        self.output_dim = output_dim
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.supports_masking = True

    def build(self, inputs_shape):
        if len(inputs_shape) < 2 or inputs_shape[-1] is None:
            raise ValueError(
                "FeedForward needs inputs with a known last axis, "
                f"received shape {tuple(inputs_shape)}."
            )
        output_dim = self.output_dim or inputs_shape[-1]
        hidden_shape = tuple(inputs_shape[:-1]) + (self.intermediate_dim,)
        self.intermediate_dense = self._dense(self.intermediate_dim, "intermediate_dense")
        self.intermediate_dense.build(inputs_shape)
        if self.gated:
            self.gate_dense = self._dense(self.intermediate_dim, "gate_dense")
            self.gate_dense.build(inputs_shape)
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="dropout"
        )
        # Built now: set up by its first call inside torch.compile, it would retrace.
        self.dropout_layer.build(hidden_shape)
        self.output_dense = self._dense(output_dim, "output_dense")
        self.output_dense.build(hidden_shape)

    def _dense(self, units, name):
        return keras.layers.Dense(
            units,
            use_bias=self.use_bias,
            kernel_initializer=_common.clone_initializer(self.kernel_initializer),
            bias_initializer=_common.clone_initializer(self.bias_initializer),
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            kernel_constraint=self.kernel_constraint,
            bias_constraint=self.bias_constraint,
            dtype=self.dtype_policy,
            name=name,
        )

    def call(self, inputs, training=None):
        hidden = self.activation(self.intermediate_dense(inputs))  # (B, T, F)
        if self.gated:
            hidden = hidden * self.gate_dense(inputs)  # (B, T, F)
        hidden = self.dropout_layer(hidden, training=training)
        return self.output_dense(hidden)  # (B, T, O)

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape[:-1]) + (self.output_dim or inputs_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "activation": keras.activations.serialize(self.activation),
                "gated": self.gated,
                "dropout": self.dropout,
                "output_dim": self.output_dim,
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
