"""One block of T5's encoder or decoder."""

from kerastack.core import check_float, check_int, keras, ops, serializable
from kerastack.layernorm import RMSNormalization
from kerastack.t5.t5_attention import T5Attention
from kerastack.transformer import FeedForward


@serializable
class T5Block(keras.layers.Layer):
    """A pre-norm T5 block (Raffel et al., 2020): RMS norm, self-attention
    with the stack's relative position bias, residual; in the decoder, RMS
    norm, cross-attention to the encoder's output (no position bias),
    residual; then RMS norm, feed-forward network (no biases), residual.
    Dropout follows each sublayer in training.

    Letters: B batch, T length, S source length, C cache length,
    N heads, D width.

    Args:
        num_heads: int, N.
        key_value_dim: int, the width of each head (T5's `d_kv`).
        intermediate_dim: int, feed-forward width (T5's `d_ff`).
        activation: feed-forward activation (`"relu"` for T5,
            `"gelu_approximate"` for T5.1.1 and mT5).
        gated: bool, a gated feed-forward network (T5.1.1's `wi_0`, `wi_1`).
        dropout: float.
        layer_norm_epsilon: float.
        is_decoder: bool, a causal decoder block with cross-attention.
        kernel_initializer: of the projections.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(B, T, D)`.
        position_bias: float `(1, N, T, T)` (`(1, N, T, C)` with a cache).
        padding_mask: boolean `(B, T)`, True on real tokens (keys); with a
            cache every cached position is taken to be real.
        encoder_outputs: `(B, S, D)` (decoder only).
        encoder_padding_mask: boolean `(B, S)` (decoder only).
        cache: the self-attention's `(key_cache, value_cache)`, each
            `(B, C, N, H)` (decoder only; see `initial_cache`).
        cache_update_index: int or scalar int tensor, the position of the
            first of `inputs`.
        training: bool.

    Returns:
        `(B, T, D)`, or `((B, T, D), new_cache)` with a cache.

    Example:

    >>> block = T5Block(num_heads=3, key_value_dim=4, intermediate_dim=16, is_decoder=True)
    >>> x = np.random.default_rng(0).random((2, 5, 10), "float32")
    >>> source = np.random.default_rng(1).random((2, 7, 10), "float32")
    >>> tuple(block(x, encoder_outputs=source).shape)
    (2, 5, 10)
    """

    def __init__(
        self,
        num_heads,
        key_value_dim,
        intermediate_dim,
        activation="relu",
        gated=False,
        dropout=0.0,
        layer_norm_epsilon=1e-6,
        is_decoder=False,
        kernel_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = check_int("num_heads", num_heads)
        self.key_value_dim = check_int("key_value_dim", key_value_dim)
        self.intermediate_dim = check_int("intermediate_dim", intermediate_dim)
        self.activation = keras.activations.get(activation)
        self.gated = bool(gated)
        self.dropout = check_float(
            "dropout", dropout, minimum=0.0, maximum=1.0, exclusive_maximum=True
        )
        self.layer_norm_epsilon = check_float(
            "layer_norm_epsilon", layer_norm_epsilon, minimum=0.0, exclusive_minimum=True
        )
        self.is_decoder = bool(is_decoder)
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or keras.initializers.RandomNormal(stddev=0.05)
        )

    def build(self, inputs_shape, encoder_outputs_shape=None):
        width = inputs_shape[-1]
        shape = (None, None, width)
        policy = self.dtype_policy

        def norm(name):
            layer = RMSNormalization(epsilon=self.layer_norm_epsilon, dtype=policy, name=name)
            layer.build(shape)
            return layer

        def attention(name, source_shape=None):
            layer = T5Attention(
                self.num_heads,
                self.key_value_dim,
                dropout=self.dropout,
                kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
                dtype=policy,
                name=name,
            )
            layer.build(shape, source_shape)
            return layer

        self.self_attention_layer_norm = norm("self_attention_layer_norm")
        self.self_attention = attention("self_attention")
        if self.is_decoder:
            self.cross_attention_layer_norm = norm("cross_attention_layer_norm")
            self.cross_attention = attention("cross_attention", shape)
        self.feed_forward_layer_norm = norm("feed_forward_layer_norm")
        self.feed_forward = FeedForward(
            self.intermediate_dim,
            activation=self.activation,
            gated=self.gated,
            dropout=self.dropout,
            use_bias=False,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            dtype=policy,
            name="feed_forward",
        )
        self.feed_forward.build(shape)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=policy, name="dropout")
        # Built now: set up by its first call inside torch.compile, it would retrace.
        self.dropout_layer.build(shape)

    def call(
        self,
        inputs,
        position_bias=None,
        padding_mask=None,
        encoder_outputs=None,
        encoder_padding_mask=None,
        cache=None,
        cache_update_index=None,
        training=None,
    ):
        if not self.is_decoder and (encoder_outputs is not None or cache is not None):
            raise ValueError(
                "An encoder T5Block (is_decoder=False) takes no `encoder_outputs` or `cache`."
            )
        if self.is_decoder and encoder_outputs is None:
            raise ValueError("A decoder T5Block needs `encoder_outputs`.")
        x = inputs  # (B, T, D)
        mask = self._self_attention_mask(x, padding_mask, cache, cache_update_index)
        attended = self.self_attention(
            self.self_attention_layer_norm(x),
            attention_bias=position_bias,
            attention_mask=mask,
            cache=cache,
            cache_update_index=cache_update_index,
            training=training,
        )
        if cache is not None:
            attended, cache = attended
        x = x + self.dropout_layer(attended, training=training)
        if self.is_decoder:
            source_mask = None
            if encoder_padding_mask is not None:
                source_mask = ops.cast(encoder_padding_mask, "bool")[:, None, None, :]
            attended = self.cross_attention(
                self.cross_attention_layer_norm(x),
                encoder_outputs,
                attention_mask=source_mask,  # (B, 1, 1, S)
                training=training,
            )
            x = x + self.dropout_layer(attended, training=training)
        hidden = self.feed_forward(self.feed_forward_layer_norm(x), training=training)
        x = x + self.dropout_layer(hidden, training=training)
        return (x, cache) if cache is not None else x

    def _self_attention_mask(self, x, padding_mask, cache, cache_update_index):
        """Boolean, broadcastable to `(B, N, T, S)` (S is C with a cache)."""
        mask = None
        if padding_mask is not None and cache is None:
            mask = ops.cast(padding_mask, "bool")[:, None, None, :]  # (B, 1, 1, S)
        if not self.is_decoder:
            return mask
        length = ops.shape(x)[1]
        start = 0 if cache is None else cache_update_index
        key_length = length if cache is None else ops.shape(cache[0])[1]
        queries = ops.arange(length, dtype="int32") + ops.cast(start, "int32")  # (T,)
        keys = ops.arange(key_length, dtype="int32")  # (S,)
        causal = ops.expand_dims(keys, 0) <= ops.expand_dims(queries, 1)  # (T, S)
        causal = causal[None, None, :, :]  # (1, 1, T, S)
        return causal if mask is None else ops.logical_and(mask, causal)

    def initial_cache(self, batch_size, max_length):
        """An empty self-attention cache `(key_cache, value_cache)`, each
        `(batch_size, max_length, N, H)` zeros in the compute dtype."""
        shape = (batch_size, max_length, self.num_heads, self.key_value_dim)
        return (
            ops.zeros(shape, dtype=self.compute_dtype),
            ops.zeros(shape, dtype=self.compute_dtype),
        )

    def compute_output_spec(self, inputs, *args, **kwargs):
        return keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_value_dim": self.key_value_dim,
                "intermediate_dim": self.intermediate_dim,
                "activation": keras.activations.serialize(self.activation),
                "gated": self.gated,
                "dropout": self.dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "is_decoder": self.is_decoder,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
