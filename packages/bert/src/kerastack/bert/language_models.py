"""BERT as a language model that generates: UniLM's sequence-to-sequence
model (`BertSeq2SeqLM`, a source read both ways and a target written left to
right) and a left-to-right model (`BertCausalLM`), bert4keras's
`application="unilm"` and `"lm"` in kerastack's own API.

Both put the masked-LM head (tied to the word embeddings) on every position
of a `BertBackbone` and change only who may attend to whom, so a pretrained
BERT checkpoint with its MLM head (Google's, or HF's `BertForPreTraining` /
`BertForMaskedLM`) loads whole. They generate with
`kerastack.transformer.generate` (greedy, sampling, beam search; compiled
once; with a key/value cache).

Letters: B batch, T length, S source length, D width, V vocabulary, C cache
length.
"""

import numpy as np

from kerastack import transformer
from kerastack.attention import prefix_lm_attention_mask
from kerastack.bert.bert_backbone import BertBackbone
from kerastack.bert.heads import _Task, mlm_head_table
from kerastack.core import keras, model_lock, ops, serializable
from kerastack.models import MaskedLMHead

_INPUTS = ("token_ids", "segment_ids", "padding_mask")


class _BertLanguageModel(_Task):
    """The graph, the generation pass and the checkpoint table both language
    models share; `_prefix` says whether the first segment is read both ways."""

    # The backbone's pooler is loaded where a checkpoint has one (Google's
    # do); HF's masked-LM checkpoints have none, which loads with a warning.
    _uses_pooler = True
    _prefix = False

    def __init__(self, backbone, **kwargs):
        if not isinstance(backbone, BertBackbone):
            raise ValueError(
                f"{type(self).__name__} needs a BertBackbone, received {type(backbone).__name__}."
            )
        # decode_sequence's layers and head, needed before _init (untracked:
        # the graph and `self.backbone` track them).
        object.__setattr__(self, "_backbone_layers", backbone)
        inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in _INPUTS}
        head = MaskedLMHead(
            backbone.get_layer("token_embedding"),
            activation=backbone.activation,
            layer_norm_epsilon=backbone.layer_norm_epsilon,
            dtype=backbone.dtype_policy,
            name="mlm_head",
        )
        object.__setattr__(self, "_head", head)
        logits = self.decode_sequence(
            inputs["token_ids"],
            segment_ids=inputs["segment_ids"],
            padding_mask=inputs["padding_mask"],
        )  # (B, T, V)
        self._init(backbone, inputs, logits, {}, **kwargs)
        self.mlm_head = head

    # -- what the model knows ---------------------------------------------------------

    @property
    def num_layers(self):
        return self.backbone.num_layers

    @property
    def vocabulary_size(self):
        return self.backbone.vocabulary_size

    @property
    def max_sequence_length(self):
        return self.backbone.max_sequence_length

    def input_rules(self):
        """`token_ids`, `segment_ids` and `padding_mask`, as the backbone's."""
        rules = self.backbone.input_rules()
        return {name: rules[name] for name in _INPUTS}

    def _head_table(self):
        return mlm_head_table(self.mlm_head)

    # -- the pass that training and generation run ---------------------------------

    def decode_sequence(
        self,
        token_ids,
        segment_ids=None,
        position_ids=None,
        padding_mask=None,
        attention_mask=None,
        use_causal_mask=None,
        cache=None,
        cache_update_index=None,
        training=None,
    ):
        """Logits `(B, T, V)` (float32) of `token_ids` `(B, T)`, the
        backbone's layers called one by one, optionally with a key/value
        cache. The model's own call is this pass without a cache.

        Args:
            token_ids: int `(B, T)`.
            segment_ids: int `(B, T)`; zeros when None.
            position_ids: int `(B, T)`, each token's row of the position
                table; `cache_update_index + 0, 1, ...` when None.
            padding_mask: `(B, T)`, True on real tokens (the queries, and
                without a cache the keys too); all real when None.
            attention_mask: boolean `(B, T, T)`, or `(B, T, C)` with a cache:
                where a token may attend. When None: `BertSeq2SeqLM`'s
                prefix-LM mask of `segment_ids` (see
                `kerastack.attention.prefix_lm_attention_mask`), nothing for
                `BertCausalLM` (causality alone).
            use_causal_mask: bool, whether causality is applied on top;
                None is False for `BertSeq2SeqLM`, True for `BertCausalLM`.
            cache: a list with one `(key_cache, value_cache)` per block, each
                `(B, C, N, H)` (see `initial_cache`).
            cache_update_index: int or scalar int tensor, the cache position
                of the first of `token_ids`; needed with `cache`.
            training: bool, whether dropout is active.

        Returns:
            The logits, or `(logits, new_cache)` with a cache.
        """
        backbone = self._backbone_layers
        if segment_ids is None:
            segment_ids = ops.zeros_like(token_ids)
        if use_causal_mask is None:
            use_causal_mask = not self._prefix
        if padding_mask is not None:
            padding_mask = ops.cast(padding_mask, "bool")
        if attention_mask is None and self._prefix and cache is None:
            attention_mask = prefix_lm_attention_mask(segment_ids)  # (B, T, T)
        if attention_mask is not None:
            attention_mask = ops.cast(attention_mask, "bool")
        start = 0 if cache_update_index is None else cache_update_index
        x = backbone.get_layer("token_embedding")(token_ids)  # (B, T, D)
        x = (
            x
            + backbone.get_layer("position_embedding")(
                x, start_index=start, position_ids=position_ids
            )
            + backbone.get_layer("segment_embedding")(segment_ids)
        )
        x = backbone.get_layer("embeddings_layer_norm")(x)
        x = backbone.get_layer("embeddings_dropout")(x, training=training)
        new_cache = []
        for index in range(backbone.num_layers):
            kwargs = {}
            if cache is not None:
                kwargs = {"cache": cache[index], "cache_update_index": cache_update_index}
            x = backbone.get_layer(f"transformer_layer_{index}")(
                x,
                padding_mask=padding_mask,
                attention_mask=attention_mask,
                use_causal_mask=use_causal_mask,
                training=training,
                **kwargs,
            )
            if cache is not None:
                x, layer_cache = x
                new_cache.append(layer_cache)
        logits = self._head(x)  # (B, T, V), float32
        return (logits, new_cache) if cache is not None else logits

    def initial_cache(self, batch_size, max_length):
        """Empty key/value caches of every block for `max_length` positions."""
        backbone = self.backbone
        return [
            backbone.get_layer(f"transformer_layer_{index}").initial_cache(batch_size, max_length)
            for index in range(backbone.num_layers)
        ]

    # -- training -------------------------------------------------------------------

    def training_targets(self, inputs):
        """The labels and sample weights `fit` takes with `inputs`: at each
        position, the next token and whether it is scored.

        Args:
            inputs: dict of `(B, T)` arrays: `token_ids`, `padding_mask` and,
                for `BertSeq2SeqLM`, `segment_ids` (1 on the target).

        Returns:
            `(labels, sample_weight)`: int32 `(B, T)`, the token after each
            position (0 after the last); float32 `(B, T)`, 1 where the
            position and the next token are real (and, for
            `BertSeq2SeqLM`, the next token is in the target).
        """
        token_ids = np.asarray(inputs["token_ids"], dtype="int32")
        real = np.asarray(inputs["padding_mask"]).astype(bool)
        scored = real
        if self._prefix:
            scored = scored & (np.asarray(inputs["segment_ids"]) == 1)
        labels = np.zeros_like(token_ids)
        labels[:, :-1] = token_ids[:, 1:]
        weights = np.zeros(token_ids.shape, dtype="float32")
        weights[:, :-1] = real[:, :-1] & scored[:, 1:]
        return labels, weights

    def compile(self, optimizer="adam", loss="auto", metrics=None, **kwargs):
        """`keras.Model.compile`; `loss="auto"` is the cross-entropy of the
        logits (weighted by `training_targets`' weights in `fit`)."""
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    # -- generation -------------------------------------------------------------------

    def _generate(self, prompt_ids, max_new_tokens, prompt_padding_mask, kwargs):
        # Calls from several threads take turns, as predict's do.
        with model_lock(self):
            return transformer.generate(
                self,
                prompt_ids,
                max_new_tokens=max_new_tokens,
                prompt_padding_mask=prompt_padding_mask,
                bidirectional_prompt=self._prefix,
                **kwargs,
            )

    def _generate_text(self, tokenizer, prompts, max_new_tokens, kwargs):
        """Encode `prompts` (padded on the left), generate, decode each row
        up to its end token."""
        if tokenizer.vocabulary_size > self.vocabulary_size:
            raise ValueError(
                f"The tokenizer has {tokenizer.vocabulary_size} tokens, more than the "
                f"model's vocabulary_size={self.vocabulary_size}."
            )
        single = isinstance(prompts, str)
        rows = [self._prompt_ids(tokenizer, text) for text in ([prompts] if single else prompts)]
        if not rows:
            raise ValueError("`texts` must hold at least one text, received an empty list.")
        width = max(len(row) for row in rows)
        token_ids = np.full((len(rows), width), tokenizer.pad_id, dtype="int32")
        mask = np.zeros((len(rows), width), dtype=bool)
        for index, row in enumerate(rows):
            token_ids[index, width - len(row) :] = row
            mask[index, width - len(row) :] = True
        kwargs.setdefault("end_token_id", tokenizer.sep_id)
        kwargs.setdefault("padding_id", tokenizer.pad_id)
        tokens = self._generate(token_ids, max_new_tokens, mask, dict(kwargs))
        end = kwargs["end_token_id"]
        texts = []
        for row in tokens.tolist():
            if end is not None and end in row:
                row = row[: row.index(end)]
            # Rows of the model's table past the tokenizer's (a padded
            # vocabulary) have no token: they read as [UNK].
            row = [i if i < tokenizer.vocabulary_size else tokenizer.unk_id for i in row]
            texts.append(_detokenize(tokenizer.ids_to_tokens(row)))
        return texts[0] if single else texts


def _detokenize(tokens):
    """Word pieces joined into text: `##` pieces glued to the one before."""
    text = ""
    for token in tokens:
        if token.startswith("##"):
            text += token[2:]
        else:
            text += (" " if text else "") + token
    return text


@serializable
class BertSeq2SeqLM(_BertLanguageModel):
    """UniLM (Dong et al., 2019): a BERT that reads a source and writes a
    target, both in one sequence, `[CLS] source [SEP] target [SEP]`, the
    source in segment 0 and the target in segment 1. Source tokens attend to
    the whole source; target tokens to the source and to the target up to
    themselves (`kerastack.attention.prefix_lm_attention_mask`). bert4keras's
    `build_transformer_model(..., application="unilm")`.

    A functional `keras.Model` from `{"token_ids", "segment_ids",
    "padding_mask"}` to float32 logits `(B, T, V)`: the logits at position t
    predict token t + 1. `training_targets` gives `fit` its labels and
    weights (the target's tokens only); `generate` writes targets for
    sources (left-padded `[CLS] source [SEP]` rows), `generate_text` from
    texts. Loading a BERT checkpoint loads its MLM head too (strict).

    Args:
        backbone: a `BertBackbone`.
        **kwargs: `keras.Model` arguments (`name`, ...); the dtype policy is
            the backbone's.

    Example:

    >>> backbone = BertBackbone(vocabulary_size=30, num_layers=2, num_heads=2,
    ...     hidden_dim=16, intermediate_dim=32, max_sequence_length=32)
    >>> model = BertSeq2SeqLM(backbone)
    >>> source = np.array([[2, 7, 8, 3], [0, 2, 9, 3]])  # [CLS] ... [SEP], left-padded
    >>> model.generate(source, max_new_tokens=4, source_padding_mask=source != 0).shape
    (2, 4)
    >>> ids = np.array([[2, 7, 8, 3, 11, 12, 3]])  # source, then the target
    >>> inputs = {"token_ids": ids, "segment_ids": np.array([[0, 0, 0, 0, 1, 1, 1]]),
    ...     "padding_mask": np.ones_like(ids)}
    >>> labels, weights = model.training_targets(inputs)
    >>> labels.tolist(), weights.tolist()  # the target's tokens, each from the one before
    ([[7, 8, 3, 11, 12, 3, 0]], [[0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0]])
    >>> model.compile(optimizer="adam")
    >>> history = model.fit(inputs, labels, sample_weight=weights, verbose=0)
    """

    _prefix = True

    def generate(self, source_ids, max_new_tokens, source_padding_mask=None, **kwargs):
        """Write a target for each source row.

        Args:
            source_ids: int `(B, S)`, `[CLS] source [SEP]` rows, shorter ones
                padded on the left.
            max_new_tokens: int, the most target tokens per row
                (`S + max_new_tokens - 1 <= max_sequence_length`).
            source_padding_mask: boolean `(B, S)`, True on real tokens
                (padding on the left only); all real when None.
            **kwargs: `kerastack.transformer.generate`'s `end_token_id`
                (BERT's `[SEP]`; None never stops early), `strategy`
                (`"greedy"`, `"sample"`, `"beam"`), `temperature`, `top_k`,
                `top_p`, `num_beams`, `padding_id`, `seed`, `use_cache`.

        Returns:
            int32 NumPy `(B, max_new_tokens)`: the target tokens,
            `padding_id` after a row's end token.
        """
        return self._generate(source_ids, max_new_tokens, source_padding_mask, kwargs)

    def generate_text(self, tokenizer, texts, max_new_tokens, **kwargs):
        """Targets for source texts: each encoded by `tokenizer` (a
        `BertTokenizer`) as `[CLS] text [SEP]`, `generate`, and each row's
        tokens up to its `[SEP]` joined into text.

        Args:
            tokenizer: a `BertTokenizer` of this model's vocabulary.
            texts: list of str (or one str).
            max_new_tokens: int.
            **kwargs: as `generate`; `end_token_id` defaults to `[SEP]`.

        Returns:
            A list of str (one str for one str).
        """
        return self._generate_text(tokenizer, texts, max_new_tokens, kwargs)

    @staticmethod
    def _prompt_ids(tokenizer, text):
        return [tokenizer.cls_id, *tokenizer.token_ids(text), tokenizer.sep_id]


@serializable
class BertCausalLM(_BertLanguageModel):
    """A BERT that reads left to right: each token attends to itself and the
    tokens before it, and the MLM head (tied to the word embeddings) gives
    next-token logits. bert4keras's `build_transformer_model(...,
    application="lm")`.

    A functional `keras.Model` from `{"token_ids", "segment_ids",
    "padding_mask"}` to float32 logits `(B, T, V)`; `training_targets` gives
    `fit` its labels and weights, `generate` continues prompts (`[CLS]
    text` rows, left-padded), `generate_text` texts.

    Args:
        backbone: a `BertBackbone`.
        **kwargs: `keras.Model` arguments.

    Example:

    >>> backbone = BertBackbone(vocabulary_size=30, num_layers=2, num_heads=2,
    ...     hidden_dim=16, intermediate_dim=32, max_sequence_length=32)
    >>> model = BertCausalLM(backbone)
    >>> prompt = np.array([[2, 7, 8], [2, 9, 10]])  # [CLS] ...
    >>> model.generate(prompt, max_new_tokens=5, strategy="beam", num_beams=3).shape
    (2, 5)
    """

    def generate(self, prompt_ids, max_new_tokens, prompt_padding_mask=None, **kwargs):
        """Continue prompts: as `kerastack.transformer.generate` (which see
        for `**kwargs`), prompts left-padded with `prompt_padding_mask`.

        Returns:
            int32 NumPy `(B, max_new_tokens)`: the new tokens only.
        """
        return self._generate(prompt_ids, max_new_tokens, prompt_padding_mask, kwargs)

    def generate_text(self, tokenizer, texts, max_new_tokens, **kwargs):
        """Continue texts: each encoded by `tokenizer` as `[CLS] text`,
        `generate`, and each row's new tokens up to `[SEP]` joined into
        text. `**kwargs` as `generate`."""
        return self._generate_text(tokenizer, texts, max_new_tokens, kwargs)

    @staticmethod
    def _prompt_ids(tokenizer, text):
        return [tokenizer.cls_id, *tokenizer.token_ids(text)]
