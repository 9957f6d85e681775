from kerastack.core import check_int, keras, ops, serializable, static_shape
from kerastack.layernorm import LayerNormalization
from kerastack.position import PositionEmbedding, SinePositionEncoding
from kerastack.transformer import _common
from kerastack.transformer.transformer_decoder import TransformerDecoder
from kerastack.transformer.transformer_encoder import TransformerEncoder

POSITION_ENCODINGS = ("learned", "sine")


@serializable
class Seq2SeqTransformer(keras.Model):
    """An encoder-decoder transformer (Vaswani et al., 2017) over token ids.

    Token embeddings plus position embeddings, `num_encoder_layers`
    `TransformerEncoder` blocks, `num_decoder_layers` `TransformerDecoder`
    blocks with cross-attention, and an output projection to decoder
    vocabulary logits. Call it on a dict of token ids (and optional padding
    masks) and train it with `fit` on next-token targets; generate with
    `kerastack.transformer.decode` (or `model.generate`), which runs the
    decoder one token at a time with a key/value cache.

    Letters: B batch, S source length, T target length, D `hidden_dim`,
    V decoder vocabulary size.

    Args:
        encoder_vocabulary_size: int, number of source token ids.
        decoder_vocabulary_size: int, number of target token ids; the
            encoder's when None.
        hidden_dim: int, model width D.
        num_heads: int, attention heads per block.
        intermediate_dim: int, feed-forward hidden width.
        num_encoder_layers, num_decoder_layers: ints, blocks in each stack.
        max_sequence_length: int, the longest source or target sequence.
        dropout: float, dropout on embeddings, attention and residual
            branches in training.
        activation: feed-forward activation (`"relu"`, `"gelu"`, ...).
        gated: bool, gated feed-forward networks (GEGLU, SwiGLU, ...).
        normalize_first: bool, pre-norm blocks (with a final layer
            normalization after each stack) instead of post-norm.
        layer_norm_epsilon: float.
        position_encoding: `"learned"` (`PositionEmbedding`) or `"sine"`
            (`SinePositionEncoding`, no weights).
        share_embeddings: bool, one token embedding for encoder and decoder
            (the vocabularies must then be the same size).
        tie_output: bool, the output projection is the transpose of the
            decoder's token embedding (plus a bias) instead of its own dense
            layer.
        padding_id: int or None. When a padding mask is not passed, tokens
            equal to `padding_id` are padding; None means every token is real
            unless a mask says otherwise.
        **kwargs: `keras.Model` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: dict with `"encoder_token_ids"` `(B, S)`,
            `"decoder_token_ids"` `(B, T)`, and optionally
            `"encoder_padding_mask"` `(B, S)` and `"decoder_padding_mask"`
            `(B, T)` (True on real tokens).
        training: bool, whether dropout is active.

    Returns:
        Logits `(B, T, V)` in float32 (also under mixed precision), for the
        token after each decoder position.

    Example:

    >>> model = Seq2SeqTransformer(
    ...     encoder_vocabulary_size=20, hidden_dim=32, num_heads=4,
    ...     intermediate_dim=64, num_encoder_layers=2, num_decoder_layers=2,
    ...     max_sequence_length=16)
    >>> logits = model({"encoder_token_ids": np.ones((2, 10), "int32"),
    ...                 "decoder_token_ids": np.ones((2, 7), "int32")})
    >>> tuple(logits.shape)
    (2, 7, 20)
    """

    def __init__(
        self,
        encoder_vocabulary_size,
        hidden_dim,
        num_heads,
        intermediate_dim,
        num_encoder_layers,
        num_decoder_layers,
        max_sequence_length,
        decoder_vocabulary_size=None,
        dropout=0.0,
        activation="relu",
        gated=False,
        normalize_first=False,
        layer_norm_epsilon=1e-5,
        position_encoding="learned",
        share_embeddings=False,
        tie_output=False,
        padding_id=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        encoder_vocabulary_size = check_int("encoder_vocabulary_size", encoder_vocabulary_size)
        decoder_vocabulary_size = check_int(
            "decoder_vocabulary_size", decoder_vocabulary_size, allow_none=True
        )
        decoder_vocabulary_size = decoder_vocabulary_size or encoder_vocabulary_size
        hidden_dim = check_int("hidden_dim", hidden_dim)
        max_sequence_length = check_int("max_sequence_length", max_sequence_length)
        num_encoder_layers = check_int("num_encoder_layers", num_encoder_layers, minimum=0)
        num_decoder_layers = check_int("num_decoder_layers", num_decoder_layers, minimum=0)
        padding_id = check_int("padding_id", padding_id, minimum=0, allow_none=True)
        if position_encoding not in POSITION_ENCODINGS:
            raise ValueError(
                f"`position_encoding` must be one of {POSITION_ENCODINGS}, "
                f"received position_encoding={position_encoding!r}."
            )
        if share_embeddings and decoder_vocabulary_size != encoder_vocabulary_size:
            raise ValueError(
                "`share_embeddings=True` needs one vocabulary, received "
                f"encoder_vocabulary_size={encoder_vocabulary_size} and "
                f"decoder_vocabulary_size={decoder_vocabulary_size}."
            )
        intermediate_dim, num_heads, dropout, layer_norm_epsilon = _common.validate_block_arguments(
            intermediate_dim, num_heads, dropout, layer_norm_epsilon
        )
        self.encoder_vocabulary_size = encoder_vocabulary_size
        self.decoder_vocabulary_size = decoder_vocabulary_size
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.num_encoder_layers = num_encoder_layers
        self.num_decoder_layers = num_decoder_layers
        self.max_sequence_length = max_sequence_length
        self.dropout = dropout
        self.activation = keras.activations.get(activation)
        self.gated = gated
        self.normalize_first = normalize_first
        self.layer_norm_epsilon = layer_norm_epsilon
        self.position_encoding = position_encoding
        self.share_embeddings = share_embeddings
        self.tie_output = tie_output
        self.padding_id = padding_id

        policy = self.dtype_policy
        self.encoder_token_embedding = keras.layers.Embedding(
            encoder_vocabulary_size, hidden_dim, dtype=policy, name="encoder_token_embedding"
        )
        if share_embeddings:
            self.decoder_token_embedding = self.encoder_token_embedding
        else:
            self.decoder_token_embedding = keras.layers.Embedding(
                decoder_vocabulary_size, hidden_dim, dtype=policy, name="decoder_token_embedding"
            )
        self.encoder_position = self._position("encoder_position")
        self.decoder_position = self._position("decoder_position")
        self.embedding_dropout = keras.layers.Dropout(
            dropout, dtype=policy, name="embedding_dropout"
        )
        block_kwargs = {
            "intermediate_dim": intermediate_dim,
            "num_heads": num_heads,
            "dropout": dropout,
            "activation": self.activation,
            "gated": gated,
            "layer_norm_epsilon": layer_norm_epsilon,
            "normalize_first": normalize_first,
            "dtype": policy,
        }
        self.encoder_layers = [
            TransformerEncoder(name=f"encoder_layer_{i}", **block_kwargs)
            for i in range(num_encoder_layers)
        ]
        self.decoder_layers = [
            TransformerDecoder(name=f"decoder_layer_{i}", **block_kwargs)
            for i in range(num_decoder_layers)
        ]
        if normalize_first:
            self.encoder_final_norm = LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=policy, name="encoder_final_norm"
            )
            self.decoder_final_norm = LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=policy, name="decoder_final_norm"
            )
        if not tie_output:
            self.output_projection = keras.layers.Dense(
                decoder_vocabulary_size, dtype=policy, name="output_projection"
            )

    def _position(self, name):
        if self.position_encoding == "sine":
            return SinePositionEncoding(dtype=self.dtype_policy, name=name)
        return PositionEmbedding(self.max_sequence_length, dtype=self.dtype_policy, name=name)

    def build(self, inputs_shape=None):
        batch = None
        source_shape = (batch, None, self.hidden_dim)
        self.encoder_token_embedding.build((batch, None))
        self.decoder_token_embedding.build((batch, None))
        self.encoder_position.build((batch, self.max_sequence_length, self.hidden_dim))
        self.decoder_position.build((batch, self.max_sequence_length, self.hidden_dim))
        for layer in self.encoder_layers:
            layer.build(source_shape)
        for layer in self.decoder_layers:
            layer.build(source_shape, source_shape)
        if self.normalize_first:
            self.encoder_final_norm.build(source_shape)
            self.decoder_final_norm.build(source_shape)
        if self.tie_output:
            self.output_bias = self.add_weight(
                shape=(self.decoder_vocabulary_size,), initializer="zeros", name="output_bias"
            )
        else:
            self.output_projection.build(source_shape)
        self.built = True

    # -- the parts, also used by decoding -------------------------------------

    def encode(self, encoder_token_ids, encoder_padding_mask=None, training=None):
        """The encoder's output `(B, S, D)`."""
        self._check_ids("encoder_token_ids", encoder_token_ids)
        mask = self._padding_mask(encoder_token_ids, encoder_padding_mask)
        x = self.encoder_token_embedding(encoder_token_ids)  # (B, S, D)
        x = x + self.encoder_position(x)
        x = self.embedding_dropout(x, training=training)
        for layer in self.encoder_layers:
            x = layer(x, padding_mask=mask, training=training)
        if self.normalize_first:
            x = self.encoder_final_norm(x)
        return x

    def decode_sequence(
        self,
        decoder_token_ids,
        encoder_outputs,
        encoder_padding_mask=None,
        decoder_padding_mask=None,
        cache=None,
        cache_update_index=None,
        training=None,
    ):
        """Logits `(B, T, V)` for decoder tokens given the encoder's output.

        With `cache` (a list with one `(key_cache, value_cache)` per decoder
        block, see `initial_cache`) and `cache_update_index` (the position of
        the first of `decoder_token_ids`), returns `(logits, new_cache)`.
        """
        self._check_ids("decoder_token_ids", decoder_token_ids)
        decoder_mask = self._padding_mask(decoder_token_ids, decoder_padding_mask)
        start = 0 if cache_update_index is None else cache_update_index
        x = self.decoder_token_embedding(decoder_token_ids)  # (B, T, D)
        x = x + self.decoder_position(x, start_index=start)
        x = self.embedding_dropout(x, training=training)
        new_cache = []
        for i, layer in enumerate(self.decoder_layers):
            kwargs = {}
            if cache is not None:
                kwargs = {"cache": cache[i], "cache_update_index": cache_update_index}
            x = layer(
                x,
                encoder_outputs,
                decoder_padding_mask=decoder_mask,
                encoder_padding_mask=encoder_padding_mask,
                training=training,
                **kwargs,
            )
            if cache is not None:
                x, layer_cache = x
                new_cache.append(layer_cache)
        if self.normalize_first:
            x = self.decoder_final_norm(x)
        logits = self._logits(x)
        return (logits, new_cache) if cache is not None else logits

    def initial_cache(self, batch_size, max_length):
        """Empty key/value caches of every decoder block for `max_length` tokens."""
        return [layer.initial_cache(batch_size, max_length) for layer in self.decoder_layers]

    def call(self, inputs, training=None):
        if not isinstance(inputs, dict) or not {"encoder_token_ids", "decoder_token_ids"} <= set(
            inputs
        ):
            raise ValueError(
                "Seq2SeqTransformer expects a dict with 'encoder_token_ids' and "
                "'decoder_token_ids' (and optionally 'encoder_padding_mask', "
                f"'decoder_padding_mask'), received {_describe(inputs)}."
            )
        encoder_mask = self._padding_mask(
            inputs["encoder_token_ids"], inputs.get("encoder_padding_mask")
        )
        encoder_outputs = self.encode(inputs["encoder_token_ids"], encoder_mask, training)
        return self.decode_sequence(
            inputs["decoder_token_ids"],
            encoder_outputs,
            encoder_padding_mask=encoder_mask,
            decoder_padding_mask=inputs.get("decoder_padding_mask"),
            training=training,
        )

    def generate(self, encoder_token_ids, **kwargs):
        """`kerastack.transformer.decode(self, encoder_token_ids, **kwargs)`."""
        from kerastack.transformer.decoding import decode

        return decode(self, encoder_token_ids, **kwargs)

    # -- helpers ----------------------------------------------------------------

    def _padding_mask(self, token_ids, padding_mask):
        if padding_mask is not None:
            return ops.cast(padding_mask, "bool")
        if self.padding_id is not None:
            return ops.not_equal(token_ids, self.padding_id)
        return None

    def _check_ids(self, argument, token_ids):
        shape = static_shape(token_ids)
        length = shape[1] if len(shape) == 2 else None
        if len(shape) != 2:
            raise ValueError(
                f"`{argument}` must have shape (batch, length), received shape {shape}."
            )
        if length is not None and length > self.max_sequence_length:
            raise ValueError(
                f"`{argument}` has length {length}, longer than "
                f"max_sequence_length={self.max_sequence_length}."
            )

    def _logits(self, x):
        if self.tie_output:
            embeddings = ops.cast(self.decoder_token_embedding.embeddings, x.dtype)  # (V, D)
            logits = ops.matmul(x, ops.transpose(embeddings))  # (B, T, V)
            logits = logits + ops.cast(self.output_bias, x.dtype)
        else:
            logits = self.output_projection(x)  # (B, T, V)
        return ops.cast(logits, "float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "encoder_vocabulary_size": self.encoder_vocabulary_size,
                "decoder_vocabulary_size": self.decoder_vocabulary_size,
                "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "num_encoder_layers": self.num_encoder_layers,
                "num_decoder_layers": self.num_decoder_layers,
                "max_sequence_length": self.max_sequence_length,
                "dropout": self.dropout,
                "activation": keras.activations.serialize(self.activation),
                "gated": self.gated,
                "normalize_first": self.normalize_first,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "position_encoding": self.position_encoding,
                "share_embeddings": self.share_embeddings,
                "tie_output": self.tie_output,
                "padding_id": self.padding_id,
            }
        )
        return config


def _describe(inputs):
    if isinstance(inputs, dict):
        return f"a dict with keys {sorted(inputs)}"
    return f"{type(inputs).__name__}"
