from kerastack.attention import functional
from kerastack.core import serializable
from kerastack.transformer import _common
from kerastack.transformer._block import TransformerBlock


@serializable
class TransformerEncoder(TransformerBlock):
    """One transformer encoder block: self-attention and a feed-forward
    network, each with a residual connection, dropout and layer normalization.

    Post-norm (`normalize_first=False`, the original transformer and BERT):
    `x = norm(x + dropout(sublayer(x)))`. Pre-norm (`normalize_first=True`,
    GPT-2 and most recent models): `x = x + dropout(sublayer(norm(x)))`.

    Padded tokens are never attended to, whatever they hold: a NaN or Inf
    at a padded position leaves the real positions' outputs unchanged (the
    padded positions' own outputs carry it on). A token hidden from some
    queries only (the future under a causal mask) must be finite.

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
        cache: for incremental decoding (a BERT-family language model
            generating, `kerastack.transformer.generate`): the
            self-attention's `(key_cache, value_cache)`, each `(B, C, N, H)`
            (see `initial_cache`). This call's keys and values are written
            into it at `cache_update_index`, and the queries attend over the
            whole cache: `attention_mask` is then `(B, T, C)` and
            `padding_mask` covers the queries only. The call returns
            `(outputs, new_cache)`.
        cache_update_index: int or scalar int tensor, the cache position of
            this call's first token; needed with `cache`.
        training: bool, whether dropout is active.

    Example:

    >>> x = np.random.rand(2, 10, 32).astype("float32")
    >>> tuple(TransformerEncoder(intermediate_dim=64, num_heads=4)(x).shape)
    (2, 10, 32)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
        - [Xiong et al., 2020, On Layer Normalization in the Transformer
          Architecture](https://arxiv.org/abs/2002.04745)
    """

    def build(self, inputs_shape):
        _, key_dim = _common.check_width(self, inputs_shape, self.num_heads, self.key_dim)
        self.self_attention = self._attention("self_attention", key_dim, inputs_shape, inputs_shape)
        self.self_attention_layer_norm = self._norm("self_attention_norm", inputs_shape)
        self.self_attention_dropout = self._dropout("self_attention_dropout", inputs_shape)
        self.feed_forward = self._feed_forward(inputs_shape)
        self.feed_forward_layer_norm = self._norm("feed_forward_norm", inputs_shape)
        self.feed_forward_dropout = self._dropout("feed_forward_dropout", inputs_shape)

    def call(
        self,
        inputs,
        padding_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        cache=None,
        cache_update_index=None,
        training=None,
        mask=None,
        inputs_mask=None,
    ):
        functional.check_floating(self, inputs=inputs)
        if cache is not None and cache_update_index is None:
            raise ValueError(
                "TransformerEncoder needs `cache_update_index` with a `cache`, "
                "received cache_update_index=None."
            )
        padding_mask = _common.first_mask(padding_mask, inputs_mask, mask)  # (B, T)
        # With a cache, the keys are the cached tokens too, which this call's
        # padding mask does not cover: it masks only the queries then.
        attention_kwargs = {}
        if cache is not None:
            attention_kwargs = {"cache": cache, "cache_update_index": cache_update_index}
        new_cache = []

        def self_attention(x):
            result = self.self_attention(
                x,
                x,
                query_mask=padding_mask,
                value_mask=None if cache is not None else padding_mask,
                attention_mask=attention_mask,
                use_causal_mask=use_causal_mask,
                training=training,
                **attention_kwargs,
            )
            if cache is None:
                return result  # (B, T, D)
            outputs, updated = result
            new_cache.append(updated)
            return outputs  # (B, T, D)

        x = self._residual(
            self.self_attention_layer_norm,
            self.self_attention_dropout,
            self_attention,
            inputs,
            training,
        )
        x = self._residual(
            self.feed_forward_layer_norm,
            self.feed_forward_dropout,
            lambda y: self.feed_forward(y, training=training),
            x,
            training,
        )
        return (x, new_cache[0]) if cache is not None else x

    def initial_cache(self, batch_size, max_length, dtype=None):
        """An empty self-attention cache for `max_length` tokens:
        `(key_cache, value_cache)`, each zeros `(B, C, N, H)`."""
        return self.self_attention.initial_cache(batch_size, max_length, dtype)

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask

    def compute_output_shape(self, inputs_shape):
        return inputs_shape
