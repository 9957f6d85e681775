from kerastack.attention import ScaledDotProductAttention, functional
from kerastack.core import check_float, check_int, keras, ops, serializable, static_shape


@serializable
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention on the kerastack attention core.

    Projects queries, keys and values into `num_heads` heads with
    `EinsumDense` layers, attends with `ScaledDotProductAttention` (the fused
    `keras.ops.dot_product_attention` kernel whenever the result allows), and
    projects the heads back. Weights are laid out as in
    `keras.layers.MultiHeadAttention`: `query`, `key`, `value` kernels
    `(D, N, H)`, `attention_output` kernel `(N, H, O)`, so
    `set_weights(keras_mha.get_weights())` copies a Keras layer into this one
    and gives the same outputs on real (unpadded) positions.

    Unlike the Keras layer, padded query positions give zeros. Queries with
    nothing to attend to get zero heads, so their output is the output
    projection's bias (zeros with the default initializer), never NaN.

    Padded keys are never attended to, whatever they hold: the keys and
    values that no query may attend to are set to zero before any product,
    so a NaN or Inf there cannot reach a real position. A key hidden from
    some queries only (the future under a causal mask, a custom
    `attention_mask`) stays in the product of the queries that cannot see
    it, where 0 x NaN is NaN: it must be finite. Integer or boolean inputs,
    and inputs of different batch sizes, are a `ValueError`; no queries
    (T = 0) give an empty result, and no keys (S = 0) is nothing to attend
    to.

    Letters: B batch, T query length, S key/value length, D input width,
    N heads, H `key_dim`, V `value_dim`, O output width.

    Args:
        num_heads: int, number of attention heads.
        key_dim: int, size of each head for queries and keys.
        value_dim: int, size of each head for values; `key_dim` when None.
        dropout: float, dropout rate on the attention weights.
        use_bias: bool, whether the projections have biases.
        output_shape: int, width of the output; the query width when None.
        causal: bool, whether query `i` may only attend to keys `j <= i`
            (`use_causal_mask=True` at call time does the same for one call).
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint,
        bias_constraint: for the projections, as in `keras.layers.Dense`.
        seed: int, seed for the attention dropout.
        rotary_embedding: a layer applied to the query and key heads
            `(B, T, N, H)` before attention, called as
            `layer(heads, start_index=position_of_first_token)`; for example
            `kerastack.position.RotaryEmbedding()`. None for no rotation.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        query: `(B, T, D)`.
        value: `(B, S, D_v)`.
        key: `(B, S, D_k)`; `value` is used when None.
        attention_mask: boolean `(B, T, S)`, True where a query may attend.
        return_attention_scores: bool, also return the `(B, N, T, S)` weights.
        training: bool, whether dropout is active.
        use_causal_mask: bool, apply a causal mask for this call.
        cache: for incremental decoding, a tuple `(key_cache, value_cache)`
            of shapes `(B, S_max, N, H)` and `(B, S_max, N, V)` (see
            `initial_cache`). The projected `key`/`value` of this call are
            written into it at `cache_update_index`, and the queries attend
            over the whole cache (causally, when the layer or the call is
            causal, relative to their absolute positions). The call then
            returns `(outputs, new_cache)` (or `(outputs, scores, new_cache)`).
        cache_update_index: int or scalar integer tensor, the position of
            this call's first token; needed with `cache` and with a rotary
            embedding during incremental decoding.

    Example:

    >>> x = np.random.rand(2, 10, 64).astype("float32")
    >>> layer = MultiHeadAttention(num_heads=8, key_dim=8)
    >>> tuple(layer(x, x).shape)
    (2, 10, 64)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        causal=False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        seed=None,
        rotary_embedding=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        num_heads = check_int("num_heads", num_heads)
        key_dim = check_int("key_dim", key_dim)
        value_dim = check_int("value_dim", value_dim, allow_none=True)
        if isinstance(output_shape, (list, tuple)):
            if len(output_shape) != 1:
                raise ValueError(
                    "`output_shape` must be an int (the output width), "
                    f"received output_shape={output_shape!r}."
                )
            output_shape = output_shape[0]
        output_shape = check_int("output_shape", output_shape, allow_none=True)
        dropout = check_float("dropout", dropout, minimum=0.0, maximum=1.0, exclusive_maximum=True)
        seed = check_int("seed", seed, minimum=0, allow_none=True)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim if value_dim is not None else key_dim
        self.dropout = dropout
        self.use_bias = use_bias
        self._output_width = output_shape
        self.causal = causal
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.seed = seed
        if isinstance(rotary_embedding, dict):
            rotary_embedding = keras.layers.deserialize(rotary_embedding)
        if rotary_embedding is not None and not isinstance(rotary_embedding, keras.layers.Layer):
            raise ValueError(
                "`rotary_embedding` must be a Keras layer (e.g. RotaryEmbedding()) or None, "
                f"received rotary_embedding={rotary_embedding!r}."
            )
        self.rotary_embedding = rotary_embedding
        self.supports_masking = True
        self.attention = ScaledDotProductAttention(
            dropout=dropout, causal=causal, seed=seed, dtype=self.dtype_policy, name="attention"
        )

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        for argument, shape in (("query", query_shape), ("key", key_shape), ("value", value_shape)):
            functional.check_rank(self, argument, shape, (3,))
            if shape[-1] is None:
                raise ValueError(
                    f"MultiHeadAttention needs the width (last axis) of `{argument}`, "
                    f"received shape {tuple(shape)}."
                )
        if None not in (key_shape[1], value_shape[1]) and key_shape[1] != value_shape[1]:
            raise ValueError(
                "MultiHeadAttention needs `key` and `value` of the same length, "
                f"received key length {key_shape[1]} and value length {value_shape[1]}."
            )
        output_dim = self._output_width or query_shape[-1]
        # Kernels: query/key (D, N, H), value (D, N, V), output (N, V, O).
        self.query_dense = self._projection(
            "query", "btd,dnh->btnh", (None, self.num_heads, self.key_dim), "nh"
        )
        self.key_dense = self._projection(
            "key", "bsd,dnh->bsnh", (None, self.num_heads, self.key_dim), "nh"
        )
        self.value_dense = self._projection(
            "value", "bsd,dnv->bsnv", (None, self.num_heads, self.value_dim), "nv"
        )
        self.output_dense = self._projection(
            "attention_output", "btnv,nvo->bto", (None, output_dim), "o"
        )
        self.query_dense.build(query_shape)
        self.key_dense.build(key_shape)
        self.value_dense.build(value_shape)
        heads_shape = (query_shape[0], query_shape[1], self.num_heads)
        key_heads_shape = (key_shape[0], key_shape[1], self.num_heads, self.key_dim)
        value_heads_shape = (value_shape[0], value_shape[1], self.num_heads, self.value_dim)
        if self.rotary_embedding is not None and not self.rotary_embedding.built:
            self.rotary_embedding.build(heads_shape + (self.key_dim,))
        self.attention.build(heads_shape + (self.key_dim,), value_heads_shape, key_heads_shape)
        self.output_dense.build(heads_shape + (self.value_dim,))

    def _projection(self, name, equation, output_shape, bias_axes):
        """One projection; subclasses may override it (e.g. to add an activation)."""
        projection = keras.layers.EinsumDense(
            equation,
            output_shape=output_shape,
            bias_axes=bias_axes if self.use_bias else None,
            kernel_initializer=_clone(self.kernel_initializer),
            bias_initializer=_clone(self.bias_initializer),
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            kernel_constraint=self.kernel_constraint,
            bias_constraint=self.bias_constraint,
            dtype=self.dtype_policy,
            name=name,
        )
        # Padding masks pass through a projection unchanged (and without
        # Keras warning that the projection drops them); the attention core
        # receives them explicitly.
        projection.supports_masking = True
        return projection

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
        cache=None,
        cache_update_index=None,
    ):
        key = value if key is None else key
        functional.check_floating(self, query=query, key=key, value=value)
        functional.check_batch_sizes(
            self, query=static_shape(query), key=static_shape(key), value=static_shape(value)
        )
        if cache is not None and cache_update_index is None:
            raise ValueError(
                "MultiHeadAttention needs `cache_update_index` (the position of this call's "
                "first token) when a `cache` is given, received cache_update_index=None."
            )
        query_heads = self.query_dense(query)  # (B, T, N, H)
        key_heads = self.key_dense(key)  # (B, S, N, H)
        value_heads = self.value_dense(value)  # (B, S, N, V)
        if self.rotary_embedding is not None:
            start = 0 if cache_update_index is None else cache_update_index
            query_heads = self.rotary_embedding(query_heads, start_index=start)
            key_heads = self.rotary_embedding(key_heads, start_index=start)
        if cache is not None:
            key_cache, value_cache = cache
            start = [0, cache_update_index, 0, 0]
            key_heads = ops.slice_update(key_cache, start, key_heads)  # (B, S_max, N, H)
            value_heads = ops.slice_update(value_cache, start, value_heads)  # (B, S_max, N, V)
            cache = (key_heads, value_heads)
            # The keys' padding masks cover this call's tokens, not the cache.
            value_mask = key_mask = None
        result = self.attention(
            query_heads,
            value_heads,
            key=key_heads,
            query_mask=query_mask,
            value_mask=value_mask,
            key_mask=key_mask,
            attention_mask=attention_mask,
            return_attention_scores=return_attention_scores,
            training=training,
            use_causal_mask=use_causal_mask,
            cache_update_index=cache_update_index if cache is not None else None,
        )
        heads, scores = result if return_attention_scores else (result, None)  # (B, T, N, V)
        outputs = self.output_dense(heads)  # (B, T, O)
        if query_mask is not None:
            outputs = outputs * ops.cast(ops.expand_dims(query_mask, -1), outputs.dtype)
        if cache is not None:
            return (outputs, scores, cache) if return_attention_scores else (outputs, cache)
        if return_attention_scores:
            return outputs, scores
        return outputs

    def initial_cache(self, batch_size, max_length, dtype=None):
        """An empty key/value cache: zeros `(B, S_max, N, H)` and `(B, S_max, N, V)`."""
        dtype = dtype or self.compute_dtype
        return (
            ops.zeros((batch_size, max_length, self.num_heads, self.key_dim), dtype=dtype),
            ops.zeros((batch_size, max_length, self.num_heads, self.value_dim), dtype=dtype),
        )

    def compute_mask(self, query, previous_mask=None):
        # Keras calls this with the first input and its mask: the query's.
        return previous_mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "output_shape": self._output_width,
                "causal": self.causal,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": keras.regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
                "seed": self.seed,
                "rotary_embedding": (
                    None
                    if self.rotary_embedding is None
                    else keras.layers.serialize(self.rotary_embedding)
                ),
            }
        )
        return config


def _clone(initializer):
    """A fresh initializer with the same config, so projections do not share seeds."""
    return initializer.__class__.from_config(initializer.get_config())
