"""RoFormer's encoder block: BERT's post-norm block with the rotary position
embedding applied to the queries and keys of its self-attention."""

from kerastack.core import check_float, check_int, keras, serializable
from kerastack.layernorm import LayerNormalization, RMSNormalization
from kerastack.multihead import MultiHeadAttention
from kerastack.position import RotaryEmbedding
from kerastack.transformer import FeedForward

__all__ = ["RoFormerEncoder"]

_NORMALIZATIONS = ("layer", "rms")


class _RotatedProjection(keras.layers.EinsumDense):
    """An `EinsumDense` whose output heads `(B, S, N, H)` are rotated by
    `rotary` (RoFormer's `rotary_value`). Built by `_RotaryValueAttention`,
    never saved alone."""

    def call(self, inputs, training=None):
        return self.rotary(super().call(inputs, training=training))  # (B, S, N, H)


class _RotaryValueAttention(MultiHeadAttention):
    """`MultiHeadAttention` whose values are rotated as its queries and keys
    are (HF RoFormer's `rotary_value=True`)."""

    def _projection(self, name, equation, output_shape, bias_axes):
        projection = super()._projection(name, equation, output_shape, bias_axes)
        if name != "value":
            return projection
        rotated = _RotatedProjection.from_config(projection.get_config())
        rotated.rotary = self.rotary_embedding
        rotated.supports_masking = True
        return rotated


def _clone(initializer):
    initializer = keras.initializers.get(initializer)
    return initializer.__class__.from_config(initializer.get_config())


@serializable
class RoFormerEncoder(keras.layers.Layer):
    """One RoFormer encoder block (Su et al., 2021): post-norm
    self-attention and feed-forward network, as BERT's, with the rotary
    position embedding (`kerastack.position.RotaryEmbedding`) applied to the
    query and key heads, so attention scores depend on relative positions
    only.

    `x = norm(x + dropout(attention(x)))`, then
    `x = norm(x + dropout(feed_forward(x)))`.

    RoFormer-v2 is this block with `use_bias=False` and
    `normalization="rms"`: every projection without bias and norms
    `x / sqrt(mean(x**2) + epsilon)` with no weights at all (bert4keras's
    `LayerNormalization(zero_mean=False, scale=False, offset=False)`).

    Rotation convention: `RotaryEmbedding` pairs feature `k` with feature
    `k + H/2` of each head; HF's RoFormer and bert4keras pair features `2k`
    and `2k + 1`. The two are the same computation up to the order of each
    head's features, which the family's weight tables permute at loading
    (see `kerastack.roformer.weight_table`): scores, and outputs, are
    identical.

    Letters: B batch, T length, D width (taken from the input), N heads,
    H head size `D / N` (even).

    Args:
        intermediate_dim: int, hidden width of the feed-forward network.
        num_heads: int, number of attention heads.
        dropout: float, dropout on the attention weights and on each
            residual branch.
        activation: activation of the feed-forward network.
        layer_norm_epsilon: float, epsilon of the norms.
        use_bias: bool, whether the projections have biases (False for v2).
        normalization: `"layer"` (layer normalization with scale and offset)
            or `"rms"` (RMS normalization without weights, v2).
        rotary_value: bool, rotate the value heads too (HF's `rotary_value`).
        max_wavelength: number, the base of the rotary frequencies.
        kernel_initializer, bias_initializer: for every projection.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(B, T, D)`.
        padding_mask: boolean `(B, T)`, True on real tokens (queries at
            padding give zeros before the residual; keys at padding are
            never attended to).
        training: bool, whether dropout is active.

    Example:

    >>> block = RoFormerEncoder(intermediate_dim=20, num_heads=3)
    >>> x = np.random.default_rng(0).normal(size=(2, 5, 12)).astype("float32")
    >>> tuple(block(x, padding_mask=np.ones((2, 5), bool)).shape)
    (2, 5, 12)
    >>> len(block.weights)
    16
    >>> v2 = RoFormerEncoder(intermediate_dim=20, num_heads=3, use_bias=False, normalization="rms")
    >>> _ = v2(x)
    >>> len(v2.weights)  # four attention kernels, two feed-forward kernels
    6
    >>> RoFormerEncoder(20, 3, normalization="batch")
    Traceback (most recent call last):
    ...
    ValueError: `normalization` must be one of ('layer', 'rms'), received normalization='batch'.

    References:
        - [Su et al., 2021, RoFormer](https://arxiv.org/abs/2104.09864)
    """

    def __init__(
        self,
        intermediate_dim,
        num_heads,
        dropout=0.0,
        activation="gelu",
        layer_norm_epsilon=1e-12,
        use_bias=True,
        normalization="layer",
        rotary_value=False,
        max_wavelength=10000,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.intermediate_dim = check_int("intermediate_dim", intermediate_dim)
        self.num_heads = check_int("num_heads", num_heads)
        self.dropout = check_float(
            "dropout", dropout, minimum=0.0, maximum=1.0, exclusive_maximum=True
        )
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = check_float(
            "layer_norm_epsilon", layer_norm_epsilon, minimum=0.0, exclusive_minimum=True
        )
        for name, value in (("use_bias", use_bias), ("rotary_value", rotary_value)):
            if not isinstance(value, bool):
                raise ValueError(f"`{name}` must be True or False, received {name}={value!r}.")
        if normalization not in _NORMALIZATIONS:
            raise ValueError(
                f"`normalization` must be one of {_NORMALIZATIONS}, received "
                f"normalization={normalization!r}."
            )
        self.use_bias = use_bias
        self.normalization = normalization
        self.rotary_value = rotary_value
        self.max_wavelength = check_float(
            "max_wavelength", max_wavelength, minimum=0.0, exclusive_minimum=True
        )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    def build(self, inputs_shape):
        width = inputs_shape[-1]
        if len(inputs_shape) != 3 or width is None:
            raise ValueError(
                "RoFormerEncoder expects inputs (batch, length, width) with a known width, "
                f"received shape {tuple(inputs_shape)}."
            )
        if width % self.num_heads or (width // self.num_heads) % 2:
            raise ValueError(
                f"RoFormerEncoder: the input width {width} must divide into num_heads="
                f"{self.num_heads} heads of an even size (rotary pairs)."
            )
        rotary = RotaryEmbedding(
            max_wavelength=self.max_wavelength, dtype=self.dtype_policy, name="rotary_embedding"
        )
        attention_class = _RotaryValueAttention if self.rotary_value else MultiHeadAttention
        self.self_attention = attention_class(
            num_heads=self.num_heads,
            key_dim=width // self.num_heads,
            dropout=self.dropout,
            use_bias=self.use_bias,
            kernel_initializer=_clone(self.kernel_initializer),
            bias_initializer=_clone(self.bias_initializer),
            rotary_embedding=rotary,
            dtype=self.dtype_policy,
            name="self_attention",
        )
        self.self_attention.build(inputs_shape, inputs_shape)
        self.self_attention_layer_norm = self._norm("self_attention_norm", inputs_shape)
        self.self_attention_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="self_attention_dropout"
        )
        # Built now: set up by its first call inside torch.compile, it would retrace.
        self.self_attention_dropout.build(inputs_shape)
        self.feed_forward = FeedForward(
            self.intermediate_dim,
            activation=self.activation,
            use_bias=self.use_bias,
            kernel_initializer=_clone(self.kernel_initializer),
            bias_initializer=_clone(self.bias_initializer),
            dtype=self.dtype_policy,
            name="feed_forward",
        )
        self.feed_forward.build(inputs_shape)
        self.feed_forward_layer_norm = self._norm("feed_forward_norm", inputs_shape)
        self.feed_forward_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="feed_forward_dropout"
        )
        # Built now: set up by its first call inside torch.compile, it would retrace.
        self.feed_forward_dropout.build(inputs_shape)

    def _norm(self, name, shape):
        if self.normalization == "layer":
            norm = LayerNormalization(
                epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
            )
        else:
            norm = RMSNormalization(
                epsilon=self.layer_norm_epsilon, scale=False, dtype=self.dtype_policy, name=name
            )
        norm.build(shape)
        return norm

    def call(self, inputs, padding_mask=None, training=None):
        x = inputs  # (B, T, D)
        y = self.self_attention(
            x, x, query_mask=padding_mask, value_mask=padding_mask, training=training
        )  # (B, T, D)
        x = self.self_attention_layer_norm(x + self.self_attention_dropout(y, training=training))
        y = self.feed_forward(x, training=training)  # (B, T, D)
        return self.feed_forward_layer_norm(x + self.feed_forward_dropout(y, training=training))

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape)

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "activation": keras.activations.serialize(self.activation),
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "use_bias": self.use_bias,
                "normalization": self.normalization,
                "rotary_value": self.rotary_value,
                "max_wavelength": self.max_wavelength,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
