from kerastack.core import keras, serializable
from kerastack.layernorm import LayerNormalization
from kerastack.multihead import MultiHeadAttention
from kerastack.transformer import _common
from kerastack.transformer.feed_forward import FeedForward


@serializable
class TransformerEncoder(keras.layers.Layer):
    """One transformer encoder block: self-attention and a feed-forward
    network, each with a residual connection, dropout and layer normalization.

    Post-norm (`normalize_first=False`, the original transformer and BERT):
    `x = norm(x + dropout(sublayer(x)))`. Pre-norm (`normalize_first=True`,
    GPT-2 and most recent models): `x = x + dropout(sublayer(norm(x)))`.

    Letters: B batch, T length, D width (`hidden_dim`, taken from the input),
    N heads, H head size.

    Args:
        intermediate_dim: int, hidden width of the feed-forward network.
        num_heads: int, number of attention heads.
        key_dim: int, head size; `D // num_heads` when None.
        dropout: float, dropout on the attention weights and on each residual
            branch.
        activation: activation of the feed-forward network (`"relu"`,
            `"gelu"`, `"silu"`, ...).
        gated: bool, a gated feed-forward network (GEGLU, SwiGLU, ...).
        layer_norm_epsilon: float, epsilon of the layer normalizations.
        normalize_first: bool, pre-norm instead of post-norm.
        kernel_initializer, bias_initializer: for every dense projection.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(B, T, D)`.
        padding_mask: boolean `(B, T)`, True on real tokens. A Keras mask on
            `inputs` (from `Embedding(mask_zero=True)`) is used when it is
            not given.
        attention_mask: boolean `(B, T, T)`, True where a token may attend.
        use_causal_mask: bool, let position `i` attend only to `j <= i`.
        training: bool, whether dropout is active.

    Example:

    >>> x = np.random.rand(2, 10, 32).astype("float32")
    >>> TransformerEncoder(intermediate_dim=64, num_heads=4)(x).shape
    (2, 10, 32)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
        - [Xiong et al., 2020, On Layer Normalization in the Transformer
          Architecture](https://arxiv.org/abs/2002.04745)
    """

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
        _common.validate_block_arguments(intermediate_dim, num_heads, dropout, layer_norm_epsilon)
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

    def build(self, inputs_shape):
        width, key_dim = _common.check_width(self, inputs_shape, self.num_heads, self.key_dim)
        self.self_attention = MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=key_dim,
            dropout=self.dropout,
            kernel_initializer=_common.clone_initializer(self.kernel_initializer),
            bias_initializer=_common.clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name="self_attention",
        )
        self.self_attention.build(inputs_shape, inputs_shape)
        self.self_attention_layer_norm = LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="self_attention_norm"
        )
        self.self_attention_layer_norm.build(inputs_shape)
        self.self_attention_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="self_attention_dropout"
        )
        self.feed_forward = FeedForward(
            self.intermediate_dim,
            activation=self.activation,
            gated=self.gated,
            kernel_initializer=_common.clone_initializer(self.kernel_initializer),
            bias_initializer=_common.clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name="feed_forward",
        )
        self.feed_forward.build(inputs_shape)
        self.feed_forward_layer_norm = LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="feed_forward_norm"
        )
        self.feed_forward_layer_norm.build(inputs_shape)
        self.feed_forward_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="feed_forward_dropout"
        )

    def call(
        self,
        inputs,
        padding_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        training=None,
        mask=None,
        inputs_mask=None,
    ):
        padding_mask = _common.first_mask(padding_mask, inputs_mask, mask)  # (B, T)
        # Self-attention sub-block.
        residual = inputs
        x = self.self_attention_layer_norm(inputs) if self.normalize_first else inputs
        x = self.self_attention(
            x,
            x,
            query_mask=padding_mask,
            value_mask=padding_mask,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
            training=training,
        )  # (B, T, D)
        x = residual + self.self_attention_dropout(x, training=training)
        x = x if self.normalize_first else self.self_attention_layer_norm(x)
        # Feed-forward sub-block.
        residual = x
        y = self.feed_forward_layer_norm(x) if self.normalize_first else x
        y = self.feed_forward(y, training=training)  # (B, T, D)
        x = residual + self.feed_forward_dropout(y, training=training)
        return x if self.normalize_first else self.feed_forward_layer_norm(x)

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

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
