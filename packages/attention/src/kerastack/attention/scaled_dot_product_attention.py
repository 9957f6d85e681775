from kerastack.attention import functional
from kerastack.core import check_float, check_int, keras, ops, serializable, static_shape


@serializable
class ScaledDotProductAttention(keras.layers.Layer):
    """Scaled dot-product attention over given queries, keys and values.

    `softmax(Q K^T * scale) V`, with no weights of its own. It runs the fused
    `keras.ops.dot_product_attention` kernel whenever the result allows it,
    and an exact explicit computation when attention scores are requested,
    when attention dropout is active in training, or when values and queries
    have different widths.

    Inputs are either `(B, T, H)` or, with heads, `(B, T, N, H)` — the layout
    of `keras.ops.dot_product_attention`. Letters: B batch, T query length,
    S key length, N heads, H query/key width, V value width.

    Masks are booleans, True meaning "may attend". Keras masks on `query`,
    `key` and `value` are honoured, as is an explicit `attention_mask` of
    shape `(B, T, S)` (or `(B, N, T, S)` with heads). Padded queries, and
    queries with nothing to attend to, give zeros.

    Padded keys are never attended to, whatever they hold: the keys and
    values that no query may attend to are set to zero before any product,
    so a NaN or Inf there cannot reach a real position. A key hidden from
    some queries only (the future under a causal mask, a custom
    `attention_mask`) stays in the product of the queries that cannot see
    it, where 0 x NaN is NaN: it must be finite. Integer or boolean inputs,
    and inputs of different batch sizes, are a `ValueError`; no queries
    (T = 0) give an empty result, no keys (S = 0) zeros.

    Args:
        dropout: float, dropout rate on the attention weights in training.
        causal: bool, whether query `i` may only attend to keys `j <= i`.
            `use_causal_mask=True` at call time does the same for one call.
        scale: float, the logit scale; `1 / sqrt(H)` when None.
        seed: int, seed for the attention dropout.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        query: `(B, T, H)` or `(B, T, N, H)`.
        value: `(B, S, V)` or `(B, S, N, V)`.
        key: like `value` but of width H; `value` is used when None.
        attention_mask: boolean `(B, T, S)` or `(B, N, T, S)`.
        return_attention_scores: bool, also return the attention weights,
            `(B, T, S)` or `(B, N, T, S)`.
        training: bool, whether dropout is active.
        use_causal_mask: bool, apply a causal mask for this call.
        cache_update_index: int or scalar integer tensor, the position of the
            first query among the keys (incremental decoding with a key/value
            cache): the causal mask then lets query `i` see keys
            `j <= cache_update_index + i`.

    Example:

    >>> q = np.random.rand(2, 4, 8).astype("float32")
    >>> v = np.random.rand(2, 6, 8).astype("float32")
    >>> layer = ScaledDotProductAttention()
    >>> tuple(layer(q, v).shape)
    (2, 4, 8)
    """

    def __init__(self, dropout=0.0, causal=False, scale=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        dropout = check_float("dropout", dropout, minimum=0.0, maximum=1.0, exclusive_maximum=True)
        scale = check_float("scale", scale, minimum=0.0, exclusive_minimum=True, allow_none=True)
        self.dropout = dropout
        self.causal = causal
        self.scale = scale
        self.seed = check_int("seed", seed, minimum=0, allow_none=True)
        self.supports_masking = True
        self.dropout_layer = keras.layers.Dropout(
            rate=dropout, seed=seed, dtype=self.dtype_policy, name="attention_dropout"
        )

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        for argument, shape in (("query", query_shape), ("key", key_shape), ("value", value_shape)):
            functional.check_rank(self, argument, shape, (3, 4))
        if not len(query_shape) == len(key_shape) == len(value_shape):
            raise ValueError(
                "ScaledDotProductAttention expects `query`, `key` and `value` of one rank, "
                f"received shapes query={tuple(query_shape)}, key={tuple(key_shape)}, "
                f"value={tuple(value_shape)}."
            )
        if _known_and_different(query_shape[-1], key_shape[-1]):
            raise ValueError(
                "ScaledDotProductAttention needs `query` and `key` of the same width, "
                f"received query width {query_shape[-1]} and key width {key_shape[-1]}."
            )
        if _known_and_different(key_shape[1], value_shape[1]):
            raise ValueError(
                "ScaledDotProductAttention needs `key` and `value` of the same length, "
                f"received key length {key_shape[1]} and value length {value_shape[1]}."
            )
        if len(query_shape) == 4:
            for argument, shape in (("key", key_shape), ("value", value_shape)):
                if _known_and_different(query_shape[2], shape[2]):
                    raise ValueError(
                        "ScaledDotProductAttention needs the same number of heads in "
                        f"`query` and `{argument}`, received {query_shape[2]} and {shape[2]}."
                    )
        self.dropout_layer.build(None)

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
        cache_update_index=None,
    ):
        key = value if key is None else key
        functional.check_floating(self, query=query, key=key, value=value)
        functional.check_batch_sizes(
            self, query=static_shape(query), key=static_shape(key), value=static_shape(value)
        )
        has_heads = len(static_shape(query)) == 4
        if not has_heads:
            query, key, value = (ops.expand_dims(x, 2) for x in (query, key, value))
        causal = self.causal or use_causal_mask
        mask = self._compute_mask(query, key, query_mask, value_mask, key_mask, attention_mask)
        use_dropout = bool(training) and self.dropout > 0.0
        explicit = (
            return_attention_scores
            or use_dropout
            or static_shape(query)[-1] is None
            or static_shape(query)[-1] != static_shape(value)[-1]
            or not functional.can_fuse(query.dtype)
        )
        # With causality the only restriction and a square score matrix, the
        # fused kernel applies it itself (flash kernels can then skip blocks).
        kernel_causal = (
            not explicit
            and causal
            and mask is None
            and cache_update_index is None
            and _is_square(query, key)
        )
        if causal and not kernel_causal:
            mask = self._add_causal_mask(mask, query, key, cache_update_index)
        if explicit:
            outputs, weights = self._compute_attention(query, key, value, mask, training)
        else:
            outputs = functional.fused_attention(
                query, key, value, mask=mask, scale=self.scale, is_causal=kernel_causal
            )  # (B, T, N, V)
            weights = None
        if not has_heads:
            outputs = ops.squeeze(outputs, 2)  # (B, T, V)
            if weights is not None:
                weights = ops.squeeze(weights, 1)  # (B, T, S)
        if return_attention_scores:
            return outputs, weights
        return outputs

    def _compute_mask(self, query, key, query_mask, value_mask, key_mask, attention_mask):
        """The padding and explicit masks combined, `(B, N|1, T, S)`, or None."""
        batch, query_length, heads = static_shape(query)[:3]
        key_length = static_shape(key)[1]
        for argument, mask, length in (
            ("query_mask", query_mask, query_length),
            ("value_mask", value_mask, key_length),
            ("key_mask", key_mask, key_length),
        ):
            functional.check_mask_shape(self, argument, mask, (batch, length))
        if attention_mask is not None:
            if len(static_shape(attention_mask)) == 3:
                functional.check_mask_shape(
                    self, "attention_mask", attention_mask, (batch, query_length, key_length)
                )
                attention_mask = ops.expand_dims(attention_mask, 1)  # (B, 1, T, S)
            else:
                functional.check_mask_shape(
                    self,
                    "attention_mask",
                    attention_mask,
                    (batch, heads, query_length, key_length),
                )
        return functional.merge_masks(
            functional.expand_mask(query_mask, (1, 3)),  # (B, 1, T, 1)
            functional.expand_mask(value_mask, (1, 2)),  # (B, 1, 1, S)
            functional.expand_mask(key_mask, (1, 2)),  # (B, 1, 1, S)
            attention_mask,
        )

    def _add_causal_mask(self, mask, query, key, offset=None):
        causal_mask = functional.causal_mask(
            ops.shape(query)[1], ops.shape(key)[1], 0 if offset is None else offset
        )
        causal_mask = functional.expand_mask(causal_mask, (0, 1))  # (1, 1, T, S)
        return functional.merge_masks(mask, causal_mask)  # (B, N|1, T, S)

    def _compute_attention(self, query, key, value, mask, training=None):
        """Explicit attention: `(B, T, N, V)` outputs and `(B, N, T, S)` weights."""
        if mask is not None:  # masked weights are 0, but 0 * NaN is NaN
            key, value = functional.zero_unattended(mask, key, value)
        scores = ops.einsum("btnh,bsnh->bnts", query, key) * self._scale(query)
        weights = functional.masked_softmax(scores, mask)  # (B, N, T, S)
        dropped = self.dropout_layer(weights, training=training)
        outputs = ops.einsum("bnts,bsnv->btnv", dropped, value)  # (B, T, N, V)
        return outputs, weights

    def _scale(self, query):
        if self.scale is not None:
            return ops.cast(self.scale, query.dtype)
        width = static_shape(query)[-1]
        if width is None:  # known only when run (Theano)
            return ops.rsqrt(ops.cast(ops.shape(query)[-1], query.dtype))
        return ops.cast(1.0 / float(width) ** 0.5, query.dtype)

    def compute_mask(self, query, previous_mask=None):
        # Keras calls this with the first input and its mask: the query's.
        return previous_mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "dropout": self.dropout,
                "causal": self.causal,
                "scale": self.scale,
                "seed": self.seed,
            }
        )
        return config


def _known_and_different(a, b):
    return a is not None and b is not None and a != b


def _is_square(query, key):
    query_length, key_length = static_shape(query)[1], static_shape(key)[1]
    return query_length is not None and query_length == key_length
