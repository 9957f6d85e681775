from kerastack.attention import functional
from kerastack.core import serializable, static_shape
from kerastack.transformer import _common
from kerastack.transformer._block import TransformerBlock


@serializable
class TransformerDecoder(TransformerBlock):
    """One transformer decoder block: causal self-attention, cross-attention
    to an encoder's output (when one is given at build time), and a
    feed-forward network, each with a residual connection, dropout and layer
    normalization (post-norm, or pre-norm with `normalize_first=True`).

    Without an encoder sequence it is a decoder-only (GPT-style) block.

    For incremental decoding, `call` accepts a key/value cache of the
    self-attention (`initial_cache`) and the position of this call's tokens;
    it then returns `(outputs, new_cache)`, and running the tokens one at a
    time gives the same outputs as one full causal pass.

    Padded tokens are never attended to, whatever they hold: a NaN or Inf
    at a padded position leaves the real positions' outputs unchanged (the
    padded positions' own outputs carry it on). A token hidden from some
    queries only (the future under a causal mask) must be finite.

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
    >>> tuple(TransformerDecoder(intermediate_dim=64, num_heads=4)(target, source).shape)
    (2, 6, 32)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
    """

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        _, key_dim = _common.check_width(self, decoder_sequence_shape, self.num_heads, self.key_dim)
        self.self_attention = self._attention(
            "self_attention", key_dim, decoder_sequence_shape, decoder_sequence_shape
        )
        self.self_attention_layer_norm = self._norm("self_attention_norm", decoder_sequence_shape)
        self.self_attention_dropout = self._dropout(
            "self_attention_dropout", decoder_sequence_shape
        )
        self.has_cross_attention = encoder_sequence_shape is not None
        if self.has_cross_attention:
            _common.check_width(self, encoder_sequence_shape, self.num_heads, key_dim)
            self.cross_attention = self._attention(
                "cross_attention", key_dim, decoder_sequence_shape, encoder_sequence_shape
            )
            self.cross_attention_layer_norm = self._norm(
                "cross_attention_norm", decoder_sequence_shape
            )
            self.cross_attention_dropout = self._dropout(
                "cross_attention_dropout", decoder_sequence_shape
            )
        self.feed_forward = self._feed_forward(decoder_sequence_shape)
        self.feed_forward_layer_norm = self._norm("feed_forward_norm", decoder_sequence_shape)
        self.feed_forward_dropout = self._dropout("feed_forward_dropout", decoder_sequence_shape)

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
        functional.check_floating(
            self, decoder_sequence=decoder_sequence, encoder_sequence=encoder_sequence
        )
        if encoder_sequence is not None:
            functional.check_batch_sizes(
                self,
                decoder_sequence=static_shape(decoder_sequence),
                encoder_sequence=static_shape(encoder_sequence),
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

        # Causal self-attention. With a cache, the keys are the cached tokens
        # too, which this call's padding mask does not cover: it masks only
        # the queries then.
        attention_kwargs = {}
        key_padding_mask = decoder_padding_mask
        if cache is not None:
            attention_kwargs = {"cache": cache, "cache_update_index": cache_update_index}
            key_padding_mask = None
        new_cache = []

        def self_attention(x):
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
            if cache is None:
                return result  # (B, T, D)
            outputs, updated = result
            new_cache.append(updated)
            return outputs  # (B, T, D)

        x = self._residual(
            self.self_attention_layer_norm,
            self.self_attention_dropout,
            self_attention,
            decoder_sequence,
            training,
        )
        if self.has_cross_attention:
            x = self._residual(
                self.cross_attention_layer_norm,
                self.cross_attention_dropout,
                lambda y: self.cross_attention(
                    y,
                    encoder_sequence,
                    query_mask=decoder_padding_mask,
                    value_mask=encoder_padding_mask,
                    attention_mask=encoder_attention_mask,
                    training=training,
                ),  # (B, T, D)
                x,
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
        `(key_cache, value_cache)`, each zeros `(B, T_max, N, H)`."""
        return self.self_attention.initial_cache(batch_size, max_length, dtype)

    def compute_mask(self, decoder_sequence, previous_mask=None):
        return previous_mask

    def compute_output_shape(self, decoder_sequence_shape, encoder_sequence_shape=None):
        return decoder_sequence_shape
