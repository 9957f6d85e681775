"""T5's multi-head attention: no biases, no `1/sqrt(H)` scaling, an
additive position bias, and a key/value cache for decoding."""

from kerastack.core import check_float, check_int, keras, large_negative, ops, serializable


@serializable
class T5Attention(keras.layers.Layer):
    """Multi-head attention as T5 (Raffel et al., 2020) computes it:
    projections without biases, logits `q . k` not scaled by `1/sqrt(H)`
    (T5 folds that into the initialization), plus an additive bias (the
    relative position bias), softmax in float32.

    Letters: B batch, T query length, S key length, C cache length,
    N `num_heads`, H `key_value_dim`, D model width.

    Args:
        num_heads: int, N.
        key_value_dim: int, H (T5's `d_kv`, not tied to `D / N`).
        dropout: float, dropout on the attention weights in training.
        kernel_initializer: of the four projections.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        query_inputs: `(B, T, D)`.
        key_value_inputs: `(B, S, D)`; the queries' own inputs when None
            (self-attention).
        attention_bias: float, broadcastable to `(B, N, T, S)` (or
            `(B, N, T, C)` with a cache), added to the logits.
        attention_mask: boolean, broadcastable to the logits, True where a
            query may attend.
        cache: `(key_cache, value_cache)`, each `(B, C, N, H)`: the
            projected keys and values of earlier positions; this call's
            are written at `cache_update_index`, and the queries attend to
            the whole cache (mask the positions not yet written).
        cache_update_index: int or scalar int tensor.
        training: bool.

    Returns:
        `(B, T, D)`, or `((B, T, D), new_cache)` with a cache.

    Example:

    >>> layer = T5Attention(num_heads=3, key_value_dim=4)
    >>> x = np.random.default_rng(0).random((2, 5, 10), "float32")
    >>> tuple(layer(x).shape)
    (2, 5, 10)
    """

    def __init__(self, num_heads, key_value_dim, dropout=0.0, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = check_int("num_heads", num_heads)
        self.key_value_dim = check_int("key_value_dim", key_value_dim)
        self.dropout = check_float(
            "dropout", dropout, minimum=0.0, maximum=1.0, exclusive_maximum=True
        )
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or keras.initializers.RandomNormal(stddev=0.05)
        )

    def build(self, query_inputs_shape, key_value_inputs_shape=None):
        width = query_inputs_shape[-1]
        source_width = width if key_value_inputs_shape is None else key_value_inputs_shape[-1]
        heads = (self.num_heads, self.key_value_dim)

        def projection(name, equation, output_shape):
            return keras.layers.EinsumDense(
                equation,
                output_shape=output_shape,
                kernel_initializer=self._clone_initializer(),
                dtype=self.dtype_policy,
                name=name,
            )

        self.query_dense = projection("query", "btd,dnh->btnh", (None,) + heads)
        self.query_dense.build((None, None, width))
        self.key_dense = projection("key", "bsd,dnh->bsnh", (None,) + heads)
        self.key_dense.build((None, None, source_width))
        self.value_dense = projection("value", "bsd,dnh->bsnh", (None,) + heads)
        self.value_dense.build((None, None, source_width))
        self.output_dense = projection("attention_output", "btnh,nhd->btd", (None, width))
        self.output_dense.build((None, None) + heads)
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="attention_dropout"
        )
        # Built now: set up by its first call inside torch.compile, it would retrace.
        self.dropout_layer.build(query_inputs_shape)

    def _clone_initializer(self):
        config = keras.initializers.serialize(self.kernel_initializer)
        return keras.initializers.deserialize(config)

    def call(
        self,
        query_inputs,
        key_value_inputs=None,
        attention_bias=None,
        attention_mask=None,
        cache=None,
        cache_update_index=None,
        training=None,
    ):
        source = query_inputs if key_value_inputs is None else key_value_inputs
        query = self.query_dense(query_inputs)  # (B, T, N, H)
        key = self.key_dense(source)  # (B, S, N, H)
        value = self.value_dense(source)  # (B, S, N, H)
        if cache is not None:
            if cache_update_index is None:
                raise ValueError("`cache_update_index` is needed with `cache`.")
            key_cache, value_cache = cache
            start = [0, cache_update_index, 0, 0]
            key = ops.slice_update(key_cache, start, ops.cast(key, key_cache.dtype))  # (B, C, N, H)
            value = ops.slice_update(value_cache, start, ops.cast(value, value_cache.dtype))
        logits = ops.einsum(
            "btnh,bsnh->bnts", ops.cast(query, "float32"), ops.cast(key, "float32")
        )  # (B, N, T, S)
        if attention_bias is not None:
            logits = logits + ops.cast(attention_bias, "float32")
        if attention_mask is not None:
            logits = ops.where(ops.cast(attention_mask, "bool"), logits, large_negative("float32"))
        weights = ops.softmax(logits, axis=-1)  # (B, N, T, S)
        weights = self.dropout_layer(ops.cast(weights, self.compute_dtype), training=training)
        attended = ops.einsum("bnts,bsnh->btnh", weights, ops.cast(value, self.compute_dtype))
        outputs = self.output_dense(attended)  # (B, T, D)
        if cache is not None:
            return outputs, (key, value)
        return outputs

    def compute_output_spec(self, query_inputs, key_value_inputs=None, **kwargs):
        return keras.KerasTensor(query_inputs.shape, dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_value_dim": self.key_value_dim,
                "dropout": self.dropout,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
