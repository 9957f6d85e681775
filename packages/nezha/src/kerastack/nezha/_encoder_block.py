"""NEZHA's post-norm encoder block (private: `NezhaBackbone` stacks them)."""

from kerastack.core import check_float, check_int, keras, serializable
from kerastack.layernorm import LayerNormalization
from kerastack.models import activation as get_activation
from kerastack.nezha._relative_attention import RelativePositionAttention
from kerastack.transformer import FeedForward


def _clone(initializer):
    return initializer.__class__.from_config(initializer.get_config())


@serializable
class NezhaEncoderBlock(keras.layers.Layer):
    """One NEZHA encoder block, BERT's post-norm layout with relative
    positions in the attention: `x = norm(x + dropout(attention(x)))`,
    then `x = norm(x + dropout(feed_forward(x)))`.

    Its sublayers carry the attribute names the kit's
    `kerastack.models.block_weight_table` reads (`self_attention` with
    `query_dense`, ..., `self_attention_layer_norm`, `feed_forward`,
    `feed_forward_layer_norm`).

    Letters: B batch, T length, D width.

    Args:
        num_heads: int.
        intermediate_dim: int, hidden width of the feed-forward network.
        max_relative_position: int, clip of the relative distances.
        dropout: float, on the attention weights and each residual branch.
        activation: of the feed-forward network.
        layer_norm_epsilon: float.
        kernel_initializer: for every projection.

    Call arguments:
        inputs: `(B, T, D)`.
        padding_mask: boolean `(B, T)`, True on real tokens.
        attention_mask: boolean `(B, T, T)`, or None.

    Example:

    >>> block = NezhaEncoderBlock(num_heads=3, intermediate_dim=16, max_relative_position=3)
    >>> x = np.random.default_rng(0).random((2, 5, 12), "float32")
    >>> tuple(block(x).shape)
    (2, 5, 12)
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        max_relative_position,
        dropout=0.0,
        activation="gelu",
        layer_norm_epsilon=1e-12,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = check_int("num_heads", num_heads)
        self.intermediate_dim = check_int("intermediate_dim", intermediate_dim)
        self.max_relative_position = check_int("max_relative_position", max_relative_position)
        self.dropout = check_float(
            "dropout", dropout, minimum=0.0, maximum=1.0, exclusive_maximum=True
        )
        self.activation = activation
        self.layer_norm_epsilon = check_float(
            "layer_norm_epsilon", layer_norm_epsilon, minimum=0.0, exclusive_minimum=True
        )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, inputs_shape):
        width = inputs_shape[-1]
        if width is None or width % self.num_heads:
            raise ValueError(
                f"NezhaEncoderBlock needs an input width divisible by num_heads={self.num_heads}, "
                f"received shape {tuple(inputs_shape)}."
            )
        self.self_attention = RelativePositionAttention(
            num_heads=self.num_heads,
            key_dim=width // self.num_heads,
            max_relative_position=self.max_relative_position,
            dropout=self.dropout,
            kernel_initializer=_clone(self.kernel_initializer),
            dtype=self.dtype_policy,
            name="self_attention",
        )
        self.self_attention.build(inputs_shape)
        self.self_attention_layer_norm = self._norm("self_attention_norm", inputs_shape)
        self.self_attention_dropout = self._dropout("self_attention_dropout", inputs_shape)
        self.feed_forward = FeedForward(
            self.intermediate_dim,
            activation=get_activation(self.activation),
            kernel_initializer=_clone(self.kernel_initializer),
            dtype=self.dtype_policy,
            name="feed_forward",
        )
        self.feed_forward.build(inputs_shape)
        self.feed_forward_layer_norm = self._norm("feed_forward_norm", inputs_shape)
        self.feed_forward_dropout = self._dropout("feed_forward_dropout", inputs_shape)

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

    def call(self, inputs, padding_mask=None, attention_mask=None, training=None):
        y = self.self_attention(
            inputs, padding_mask=padding_mask, attention_mask=attention_mask, training=training
        )  # (B, T, D)
        x = self.self_attention_layer_norm(
            inputs + self.self_attention_dropout(y, training=training)
        )
        y = self.feed_forward(x, training=training)  # (B, T, D)
        return self.feed_forward_layer_norm(x + self.feed_forward_dropout(y, training=training))

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "max_relative_position": self.max_relative_position,
                "dropout": self.dropout,
                "activation": self.activation,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
