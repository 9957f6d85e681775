"""What GPT-2's and OpenAI GPT's causal language models share: logits tied
to the token embedding, the layer-by-layer pass generation runs with a
key/value cache, and `generate` / `generate_text` through the shared
decoding loop. Each family's class gives its backbone class and its two
differences (a final norm, the tokenizer's padding id)."""

from kerastack import transformer
from kerastack.core import model_lock, ops

__all__ = []


class _CausalLM:
    """A decoder-only backbone and next-token logits `x @ E^T` (float32),
    `E` its token embedding: a mixin before the family's `_Pretrained` and
    `kerastack.models.TaskModel`. A subclass sets `BACKBONE` and its
    docstring.

    Letters: B batch, T length, P prompt length, D width, V vocabulary,
    C cache length."""

    BACKBONE = None

    def __init__(self, backbone, **kwargs):
        expected = self.BACKBONE
        if not isinstance(backbone, expected):
            article = "an" if expected.__name__[0] in "AEIOU" else "a"
            raise ValueError(
                f"{type(self).__name__} needs {article} {expected.__name__}, received "
                f"{type(backbone).__name__}."
            )
        inputs = dict(backbone.input)
        hidden = backbone(inputs)  # (B, T, D)
        logits = backbone.token_embedding(hidden, reverse=True)  # (B, T, V), float32
        self._init(backbone, inputs, logits, {}, **kwargs)

    def _final_norm(self, x):
        """The backbone's last step after its blocks (none by default)."""
        return x

    def _padding_id(self, tokenizer):
        """The id `generate_text` pads finished rows with."""
        return tokenizer.end_token_id

    @property
    def num_layers(self):
        return self.backbone.num_layers

    @property
    def vocabulary_size(self):
        return self.backbone.vocabulary_size

    @property
    def max_sequence_length(self):
        return self.backbone.max_sequence_length

    # -- the pass that generation runs ------------------------------------------

    def decode_sequence(
        self,
        token_ids,
        position_ids=None,
        padding_mask=None,
        attention_mask=None,
        cache=None,
        cache_update_index=None,
        training=None,
    ):
        """Logits `(B, T, V)` (float32) of `token_ids` `(B, T)`, the model's
        layers called one by one, optionally with a key/value cache.

        Args:
            token_ids: int `(B, T)`.
            position_ids: int `(B, T)`, each token's position; by default
                `cache_update_index + 0, 1, ...` (0, 1, ... without a
                cache), as in the model's own call.
            padding_mask: boolean `(B, T)`, True on real tokens (queries and,
                without a cache, keys).
            attention_mask: boolean `(B, T, S)`, True where a token may
                attend; S is T, or C with a cache (where it is how padded
                cache positions are left out). Causality is always applied
                on top.
            cache: a list with one `(key_cache, value_cache)` per block, each
                `(B, C, N, H)` (see `initial_cache`).
            cache_update_index: int or scalar int tensor, the cache position
                of the first of `token_ids`; needed with `cache`.
            training: bool, whether dropout is active.

        Returns:
            The logits, or `(logits, new_cache)` with a cache.
        """
        backbone = self.backbone
        x = backbone.token_embedding(token_ids)  # (B, T, D)
        start = 0 if cache_update_index is None else cache_update_index
        positions = backbone.position_embedding(
            x, start_index=start, position_ids=position_ids
        )  # (B, T, D)
        x = backbone.embeddings_dropout(x + positions, training=training)
        if padding_mask is not None:
            padding_mask = ops.cast(padding_mask, "bool")
        new_cache = []
        for index, block in enumerate(backbone.transformer_layers):
            kwargs = {}
            if cache is not None:
                kwargs = {"cache": cache[index], "cache_update_index": cache_update_index}
            x = block(
                x,
                decoder_padding_mask=padding_mask,
                decoder_attention_mask=attention_mask,
                training=training,
                **kwargs,
            )
            if cache is not None:
                x, layer_cache = x
                new_cache.append(layer_cache)
        x = self._final_norm(x)  # (B, T, D)
        logits = backbone.token_embedding(x, reverse=True)  # (B, T, V)
        return (logits, new_cache) if cache is not None else logits

    def initial_cache(self, batch_size, max_length):
        """Empty key/value caches of every block for `max_length` positions."""
        return [
            block.initial_cache(batch_size, max_length)
            for block in self.backbone.transformer_layers
        ]

    def generate(self, prompt_ids, max_new_tokens, **kwargs):
        """Continue prompts: `kerastack.transformer.generate(self, prompt_ids,
        max_new_tokens=max_new_tokens, **kwargs)`.

        Args:
            prompt_ids: int `(B, P)`; rows of different lengths padded on
                the left, with `prompt_padding_mask`.
            max_new_tokens: int, tokens generated per row.
            **kwargs: `prompt_padding_mask`, `end_token_id` (GPT-2's
                `<|endoftext|>` is 50,256; OpenAI GPT has none; None never
                stops early),
                `strategy` (`"greedy"`, `"sample"`, `"beam"`),
                `temperature`, `top_k`, `top_p`, `num_beams`, `padding_id`,
                `seed`, `use_cache`.

        Returns:
            int32 NumPy `(B, max_new_tokens)`: the new tokens only,
            `padding_id` after a row's end token.
        """
        # Calls from several threads take turns, as predict's do (on JAX two
        # overlapping compiled calls would free each other's weight buffers).
        with model_lock(self):
            return transformer.generate(self, prompt_ids, max_new_tokens=max_new_tokens, **kwargs)

    def generate_text(self, tokenizer, prompts, max_new_tokens, **kwargs):
        """Continue texts: `prompts` encoded by `tokenizer` padded on the
        left, `generate`, and each row's new tokens up to (not including)
        the end token decoded.

        Args:
            tokenizer: the family's tokenizer (`GPT2Tokenizer`,
                `OpenAIGPTTokenizer`) of this model's vocabulary.
            prompts: list of str (or one str).
            max_new_tokens: int, tokens generated per prompt.
            **kwargs: as `generate`; `end_token_id` defaults to the
                tokenizer's (`None`, OpenAI GPT's, never stops early), and
                `padding_id` to the id the tokenizer pads with.

        Returns:
            The continuations, a list of str (one str for one str).
        """
        single = isinstance(prompts, str)
        inputs = tokenizer.encode_batch([prompts] if single else prompts, padding_side="left")
        if tokenizer.vocabulary_size > self.vocabulary_size:
            raise ValueError(
                f"The tokenizer has {tokenizer.vocabulary_size} tokens, more than the "
                f"model's vocabulary_size={self.vocabulary_size}."
            )
        kwargs.setdefault("end_token_id", tokenizer.end_token_id)
        kwargs.setdefault("padding_id", self._padding_id(tokenizer))
        tokens = self.generate(
            inputs["token_ids"],
            max_new_tokens,
            prompt_padding_mask=inputs["padding_mask"],
            **kwargs,
        )
        end = kwargs["end_token_id"]
        texts = []
        for row in tokens:
            row = list(row)
            if end is not None and end in row:
                row = row[: row.index(end)]
            texts.append(tokenizer.detokenize(row))
        return texts[0] if single else texts

    # -- HF checkpoints and Keras config --------------------------------------------

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """The language model on a randomly initialized backbone shaped by the
        `config.json` in `path`; `kwargs` go to the backbone (`dtype`, ...),
        as they do in `from_pretrained`."""
        return cls(cls.BACKBONE.from_config_file(path, **kwargs))

    def hf_weight_table(self):
        """The backbone's table (the output projection is its token embedding)."""
        return self.backbone.hf_weight_table()
