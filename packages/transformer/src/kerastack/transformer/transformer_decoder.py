from kerastack.core import keras, serializable
from kerastack.layernorm import LayerNormalization
from kerastack.multihead import MultiHeadAttention
from kerastack.transformer import _common
from kerastack.transformer.feed_forward import FeedForward


@serializable
class TransformerDecoder(keras.layers.Layer):
    """One transformer decoder block: causal self-attention, cross-attention
    to an encoder's output (when one is given at build time), and a
    feed-forward network, each with a residual connection, dropout and layer
    normalization (post-norm, or pre-norm with `normalize_first=True`).

    Without an encoder sequence it is a decoder-only (GPT-style) block.

    For incremental decoding, `call` accepts a key/value cache of the
    self-attention (`initial_cache`) and the position of this call's tokens;
    it then returns `(outputs, new_cache)`, and running the tokens one at a
    time gives the same outputs as one full causal pass.

    Letters: B batch, T decoder length, S encoder length, D width (taken from
    the input), N heads, H head size, T_max the cache length.

    Args:
        intermediate_dim: int, hidden width of the feed-forward network.
        num_heads: int, number of attention heads.
        key_dim: int, head size; `D // num_heads` when None.
        dropout: float, dropout on the attention weights and on each residual
            branch.
        activation: activation of the feed-forward network.
        gated: bool, a gated feed-forward network (GEGLU, SwiGLU, ...).
        layer_norm_epsilon: float, epsilon of the layer normalizations.
        normalize_first: bool, pre-norm instead of post-norm.
        kernel_initializer, bias_initializer: for every dense projection.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        decoder_sequence: `(B, T, D)`.
        encoder_sequence: `(B, S, D_e)`; required when the block was built
            with one, not allowed otherwise.
        decoder_padding_mask: boolean `(B, T)`, True on real tokens (a Keras
            mask on `decoder_sequence` is used when not given).
        decoder_attention_mask: boolean `(B, T, T)` (or `(B, T, T_max)` with
            a cache), True where a token may attend.
        encoder_padding_mask: boolean `(B, S)` (a Keras mask on
            `encoder_sequence` is used when not given).
        encoder_attention_mask: boolean `(B, T, S)`.
        use_causal_mask: bool (default True), position `i` attends only to
            `j <= i` (absolute positions, with a cache).
        cache: `(key_cache, value_cache)` of the self-attention, each
            `(B, T_max, N, H)`; see `initial_cache`.
        cache_update_index: int or scalar integer tensor, the position of the
            first token of `decoder_sequence`; required with `cache`.
        training: bool, whether dropout is active.

    Example:

    >>> target = np.random.rand(2, 6, 32).astype("float32")
    >>> source = np.random.rand(2, 9, 32).astype("float32")
    >>> TransformerDecoder(intermediate_dim=64, num_heads=4)(target, source).shape
    (2, 6, 32)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
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

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        width, key_dim = _common.check_width(
            self, decoder_sequence_shape, self.num_heads, self.key_dim
        )
        self.self_attention = self._attention("self_attention", key_dim)
        self.self_attention.build(decoder_sequence_shape, decoder_sequence_shape)
        self.self_attention_layer_norm = self._norm("self_attention_norm", decoder_sequence_shape)
        self.self_attention_dropout = self._dropout("self_attention_dropout")
        self.has_cross_attention = encoder_sequence_shape is not None
        if self.has_cross_attention:
            _common.check_width(self, encoder_sequence_shape, self.num_heads, key_dim)
            self.cross_attention = self._attention("cross_attention", key_dim)
            self.cross_attention.build(decoder_sequence_shape, encoder_sequence_shape)
            self.cross_attention_layer_norm = self._norm(
                "cross_attention_norm", decoder_sequence_shape
            )
            self.cross_attention_dropout = self._dropout("cross_attention_dropout")
        self.feed_forward = FeedForward(
            self.intermediate_dim,
            activation=self.activation,
            gated=self.gated,
            kernel_initializer=_common.clone_initializer(self.kernel_initializer),
            bias_initializer=_common.clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name="feed_forward",
        )
        self.feed_forward.build(decoder_sequence_shape)
        self.feed_forward_layer_norm = self._norm("feed_forward_norm", decoder_sequence_shape)
        self.feed_forward_dropout = self._dropout("feed_forward_dropout")

    def _attention(self, name, key_dim):
        return MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=key_dim,
            dropout=self.dropout,
            kernel_initializer=_common.clone_initializer(self.kernel_initializer),
            bias_initializer=_common.clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name=name,
        )

    def _norm(self, name, shape):
        norm = LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
        )
        norm.build(shape)
        return norm

    def _dropout(self, name):
        return keras.layers.Dropout(self.dropout, dtype=self.dtype_policy, name=name)

    def call(
        self,
        decoder_sequence,
        encoder_sequence=None,
        decoder_padding_mask=None,
        decoder_attention_mask=None,
        encoder_padding_mask=None,
        encoder_attention_mask=None,
        use_causal_mask=True,
        cache=None,
        cache_update_index=None,
        training=None,
        mask=None,
        decoder_sequence_mask=None,
        encoder_sequence_mask=None,
    ):
        if self.has_cross_attention and encoder_sequence is None:
            raise ValueError(
                "This TransformerDecoder was built with cross-attention; call it with an "
                "`encoder_sequence`, received encoder_sequence=None."
            )
        if not self.has_cross_attention and encoder_sequence is not None:
            raise ValueError(
                "This TransformerDecoder was built without cross-attention (no encoder "
                "sequence at its first call); it cannot take an `encoder_sequence` now."
            )
        if cache is not None and cache_update_index is None:
            raise ValueError(
                "TransformerDecoder needs `cache_update_index` with a `cache`, "
                "received cache_update_index=None."
            )
        decoder_padding_mask = _common.first_mask(
            decoder_padding_mask, decoder_sequence_mask, mask
        )  # (B, T)
        encoder_padding_mask = _common.first_mask(
            encoder_padding_mask, encoder_sequence_mask
        )  # (B, S)

        # Causal self-attention sub-block.
        residual = decoder_sequence
        x = self._pre_norm(self.self_attention_layer_norm, decoder_sequence)
        attention_kwargs = {}
        if cache is not None:
            attention_kwargs = {"cache": cache, "cache_update_index": cache_update_index}
            # The cache holds earlier tokens, which this call's padding mask
            # does not cover: only the queries are masked by it.
            key_padding_mask = None
        else:
            key_padding_mask = decoder_padding_mask
        result = self.self_attention(
            x,
            x,
            query_mask=decoder_padding_mask,
            value_mask=key_padding_mask,
            attention_mask=decoder_attention_mask,
            use_causal_mask=use_causal_mask,
            training=training,
            **attention_kwargs,
        )
        x, cache = result if cache is not None else (result, None)  # (B, T, D)
        x = self._post_norm(
            self.self_attention_layer_norm,
            residual + self.self_attention_dropout(x, training=training),
        )

        # Cross-attention sub-block.
        if self.has_cross_attention:
            residual = x
            y = self._pre_norm(self.cross_attention_layer_norm, x)
            y = self.cross_attention(
                y,
                encoder_sequence,
                query_mask=decoder_padding_mask,
                value_mask=encoder_padding_mask,
                attention_mask=encoder_attention_mask,
                training=training,
            )  # (B, T, D)
            x = self._post_norm(
                self.cross_attention_layer_norm,
                residual + self.cross_attention_dropout(y, training=training),
            )

        # Feed-forward sub-block.
        residual = x
        y = self._pre_norm(self.feed_forward_layer_norm, x)
        y = self.feed_forward(y, training=training)  # (B, T, D)
        x = self._post_norm(
            self.feed_forward_layer_norm, residual + self.feed_forward_dropout(y, training=training)
        )
        if cache is not None:
            return x, cache
        return x

    def _pre_norm(self, norm, x):
        return norm(x) if self.normalize_first else x

    def _post_norm(self, norm, x):
        return x if self.normalize_first else norm(x)

    def initial_cache(self, batch_size, max_length, dtype=None):
        """An empty self-attention cache for `max_length` tokens:
        `(key_cache, value_cache)`, each zeros `(B, T_max, N, H)`."""
        return self.self_attention.initial_cache(batch_size, max_length, dtype)

    def compute_mask(self, decoder_sequence, previous_mask=None):
        return previous_mask

    def compute_output_shape(self, decoder_sequence_shape, encoder_sequence_shape=None):
        return decoder_sequence_shape

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
