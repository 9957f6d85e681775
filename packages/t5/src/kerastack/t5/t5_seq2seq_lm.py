"""T5 as a sequence-to-sequence language model: the backbone, output
logits (tied or untied) and generation with a key/value cache."""

from kerastack import transformer
from kerastack.core import keras, model_lock, ops, serializable
from kerastack.models import TaskModel
from kerastack.t5.t5_backbone import MAX_DECODE_LENGTH, T5Backbone, _Pretrained


@serializable
class T5Seq2SeqLM(_Pretrained, TaskModel):
    """T5's text-to-text model (HF's `T5ForConditionalGeneration`): a
    `T5Backbone` and next-token logits of the decoder's output. Tied
    (`tie_embedding_weights=True`, T5): `(x * D**-0.5) @ shared^T`; untied
    (T5.1.1, mT5): `x @ lm_head`, no bias.

    A functional `keras.Model` from the backbone's four inputs to float32
    logits `(B, T, V)`: train it with `fit` on the targets shifted right
    (`decoder_token_ids` starting with `decoder_start_token_id`), and
    generate with `generate` (`kerastack.transformer.decode`, greedy,
    sampling or beam search, with or without the cache).

    Letters: B batch, S source length, T target length, D width,
    V vocabulary.

    Args:
        backbone: a `T5Backbone`.
        **kwargs: `keras.Model` arguments (`name`, ...).

    Example:

    >>> backbone = T5Backbone(vocabulary_size=40, hidden_dim=20, key_value_dim=6,
    ...     intermediate_dim=24, num_encoder_layers=2, num_decoder_layers=1, num_heads=3)
    >>> model = T5Seq2SeqLM(backbone)
    >>> sources = np.array([[5, 6, 7, 1], [8, 9, 1, 0]], "int32")
    >>> model.generate(sources, max_length=5).shape
    (2, 5)
    >>> model.generate(sources, max_length=5, strategy="beam", num_beams=2).shape
    (2, 5)

    References:
        - HF `transformers.T5ForConditionalGeneration`, `keras_hub.models.T5`
    """

    def __init__(self, backbone, **kwargs):
        if not isinstance(backbone, T5Backbone):
            raise ValueError(f"T5Seq2SeqLM needs a T5Backbone, received {type(backbone).__name__}.")
        inputs = dict(backbone.input)
        hidden = backbone(inputs)["decoder_sequence_output"]  # (B, T, D)
        if backbone.tie_embedding_weights:
            logits = backbone.token_embedding(
                hidden * (backbone.hidden_dim**-0.5), reverse=True
            )  # (B, T, V)
        else:
            head = keras.layers.Dense(
                backbone.vocabulary_size,
                use_bias=False,
                kernel_initializer=keras.initializers.RandomNormal(
                    stddev=backbone.hidden_dim**-0.5
                ),
                dtype=backbone.dtype_policy,
                name="lm_head",
            )
            logits = ops.cast(head(hidden), "float32")  # (B, T, V)
        self._init(backbone, inputs, logits, {}, **kwargs)

    @property
    def lm_head(self):
        """The untied output `Dense` `(D, V)` (HF's `lm_head`), or None when tied."""
        if self.backbone.tie_embedding_weights:
            return None
        return self.get_layer("lm_head")

    # -- what `kerastack.transformer.decode` reads ----------------------------------

    @property
    def encoder_vocabulary_size(self):
        return self.backbone.vocabulary_size

    @property
    def decoder_vocabulary_size(self):
        return self.backbone.vocabulary_size

    @property
    def padding_id(self):
        return self.backbone.padding_id

    @property
    def max_sequence_length(self):
        """The most tokens `generate` makes (relative positions: no table
        limits T5's lengths)."""
        return MAX_DECODE_LENGTH

    def encode(self, encoder_token_ids, encoder_padding_mask=None, training=None):
        """The encoder's output `(B, S, D)`."""
        return self.backbone.encode(encoder_token_ids, encoder_padding_mask, training)

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
        """float32 logits `(B, T, V)` of `decoder_token_ids` `(B, T)` given
        the encoder's output; with `cache` (see `initial_cache`) and
        `cache_update_index` (the position of the first of
        `decoder_token_ids`), `(logits, new_cache)`."""
        hidden = self.backbone.decode(
            decoder_token_ids,
            encoder_outputs,
            encoder_padding_mask,
            decoder_padding_mask,
            cache,
            cache_update_index,
            training,
        )
        if cache is not None:
            hidden, cache = hidden
        logits = self._logits(hidden)
        return (logits, cache) if cache is not None else logits

    def _logits(self, hidden):
        backbone = self.backbone
        if backbone.tie_embedding_weights:
            return backbone.token_embedding(hidden * (backbone.hidden_dim**-0.5), reverse=True)
        return ops.cast(self.lm_head(hidden), "float32")

    def initial_cache(self, batch_size, max_length):
        """Empty self-attention caches of every decoder block."""
        return self.backbone.initial_cache(batch_size, max_length)

    def generate(self, encoder_token_ids, max_length, **kwargs):
        """Generate targets: `kerastack.transformer.decode(self,
        encoder_token_ids, max_length=max_length, **kwargs)`, starting from
        the backbone's `decoder_start_token_id` and ending at its
        `end_token_id`, padded with its `padding_id` (each overridable).

        Args:
            encoder_token_ids: int `(B, S)`; padding (the backbone's
                `padding_id`, unless `encoder_padding_mask` says otherwise)
                is not attended to.
            max_length: int, tokens generated per row.
            **kwargs: `decode`'s: `encoder_padding_mask`, `strategy`,
                `temperature`, `top_k`, `top_p`, `num_beams`, `seed`,
                `use_cache`, `start_token_id`, `end_token_id`, `padding_id`.

        Returns:
            int32 NumPy `(B, max_length)`: the tokens after the start
            token, `padding_id` after a row's end token.
        """
        backbone = self.backbone
        kwargs.setdefault("start_token_id", backbone.decoder_start_token_id)
        kwargs.setdefault("end_token_id", backbone.end_token_id)
        kwargs.setdefault("padding_id", backbone.padding_id)
        with model_lock(self):
            return transformer.decode(self, encoder_token_ids, max_length=max_length, **kwargs)

    # -- HF checkpoints ---------------------------------------------------------------

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """The model on a randomly initialized `T5Backbone` shaped by the
        `config.json` in `path`; `kwargs` go to the backbone (`dtype`, ...)."""
        return cls(T5Backbone.from_config_file(path, **kwargs))
