"""The base of the encoder and decoder blocks: their shared arguments,
sublayer factories, residual wiring and config."""

from kerastack.core import check_int, keras
from kerastack.layernorm import LayerNormalization
from kerastack.multihead import MultiHeadAttention
from kerastack.transformer import _common
from kerastack.transformer.feed_forward import FeedForward


class TransformerBlock(keras.layers.Layer):
    """Arguments and sublayers shared by `TransformerEncoder` and
    `TransformerDecoder` (see their docstrings); not a layer to use alone."""

    def __init__(
        self,
        intermediate_dim,
        num_heads,
        key_dim=None,
        dropout=0.0,
        activation="relu",
        gated=False,
        layer_norm_epsilon=1e-5,
        normalize_first=False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        intermediate_dim, num_heads, dropout, layer_norm_epsilon = _common.validate_block_arguments(
            intermediate_dim, num_heads, dropout, layer_norm_epsilon
        )
        key_dim = check_int("key_dim", key_dim, allow_none=True)
        self.intermediate_dim = intermediate_dim
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.dropout = dropout
        self.activation = keras.activations.get(activation)
        self.gated = gated
        self.layer_norm_epsilon = layer_norm_epsilon
        self.normalize_first = normalize_first
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    # -- sublayers, each created with the block's dtype policy and a fresh
    # initializer, and built at once -------------------------------------------

    def _attention(self, name, key_dim, query_shape, value_shape):
        attention = MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=key_dim,
            dropout=self.dropout,
            kernel_initializer=_common.clone_initializer(self.kernel_initializer),
            bias_initializer=_common.clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name=name,
        )
        attention.build(query_shape, value_shape)
        return attention

    def _feed_forward(self, inputs_shape):
        feed_forward = FeedForward(
            self.intermediate_dim,
            activation=self.activation,
            gated=self.gated,
            kernel_initializer=_common.clone_initializer(self.kernel_initializer),
            bias_initializer=_common.clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name="feed_forward",
        )
        feed_forward.build(inputs_shape)
        return feed_forward

    def _norm(self, name, shape):
        norm = LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
        )
        norm.build(shape)
        return norm

    def _dropout(self, name, shape):
        dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy, name=name)
        # Built now: set up by its first call inside torch.compile, it would retrace.
        dropout.build(shape)
        return dropout

    # -- residual wiring ---------------------------------------------------------

    def _residual(self, norm, dropout, sublayer, x, training):
        """`norm(x + dropout(sublayer(x)))` (post-norm) or
        `x + dropout(sublayer(norm(x)))` (pre-norm)."""
        y = sublayer(norm(x) if self.normalize_first else x)
        x = x + dropout(y, training=training)
        return x if self.normalize_first else norm(x)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "dropout": self.dropout,
                "activation": keras.activations.serialize(self.activation),
                "gated": self.gated,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "normalize_first": self.normalize_first,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
