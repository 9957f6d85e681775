"""Autoregressive decoding: greedy, sampling (temperature, top-k, top-p) and
beam search, for encoder-decoder models (`decode`, e.g.
`Seq2SeqTransformer`) and decoder-only language models (`generate`, e.g.
kerastack-gpt's `GPT2CausalLM`).

One loop serves both. Each step feeds the token at `index` of a token
buffer and writes the chosen next token at `index + 1`, until every
sequence has produced the end token or the requested number of tokens; the
two kinds of model differ only in how the loop begins and what a step feeds
(`_EncoderDecoderSteps`, `_DecoderOnlySteps`). A decoder-only model with a
cache reads the whole prompt in one first step (the prefill) and then one
token per step.

The whole loop is one function compiled by `kerastack.core.compile_function`:
a `tf.function` on TensorFlow and `jax.jit` on JAX, traced once per input
shape and decoding settings and reused on later calls; PyTorch runs it
eagerly.

Letters: B batch, S source length, P prompt length, L tokens generated,
K beams, R rows decoded (B, or B*K in beam search), N token buffer length,
C cache length, V vocabulary.
"""

import weakref

import numpy as np

from kerastack.core import (
    check_float,
    check_int,
    compile_function,
    keras,
    large_negative,
    ops,
    require_keras3,
)

STRATEGIES = ("greedy", "sample", "beam")

# Compiled decoders per model, keyed by the decoding settings.
_COMPILED = weakref.WeakKeyDictionary()


def decode(
    model,
    encoder_token_ids,
    *,
    start_token_id,
    end_token_id,
    max_length,
    encoder_padding_mask=None,
    strategy="greedy",
    temperature=1.0,
    top_k=None,
    top_p=None,
    num_beams=4,
    padding_id=0,
    seed=None,
    use_cache=True,
):
    """Generate target token ids for a batch of source token ids.

    Args:
        model: a `Seq2SeqTransformer` (or any model with its `encode`,
            `decode_sequence` and `initial_cache` methods).
        encoder_token_ids: int array `(B, S)`.
        start_token_id: int, the token that starts every target.
        end_token_id: int or None, the token that ends a target; a sequence
            stops growing once it has produced it. None never stops before
            `max_length`.
        max_length: int, the most tokens generated per sequence (not
            counting the start token); at most the model's
            `max_sequence_length`.
        encoder_padding_mask: boolean `(B, S)`, True on real tokens; from
            the model's `padding_id` (or all real) when None.
        strategy: `"greedy"` (argmax), `"sample"` (from the softmax of
            `logits / temperature`, optionally restricted to the `top_k`
            most likely tokens and/or the smallest set whose probability
            reaches `top_p`), or `"beam"` (beam search with `num_beams`
            beams, returning the most likely finished beam).
        temperature, top_k, top_p: sampling settings (`"sample"` only).
        num_beams: int, beams for `"beam"`.
        padding_id: int, written after a sequence's end token.
        seed: int, makes sampling reproducible; each call with the same seed
            gives the same tokens. None draws fresh randomness each call.
        use_cache: bool. True (the default) runs the decoder on one new token
            per step with a key/value cache; False reruns it on the whole
            prefix at every step (same tokens, more work: a reference and a
            benchmark baseline). Greedy and sampling only.

    Returns:
        int32 NumPy array `(B, max_length)`: the generated tokens after the
        start token, ending with `end_token_id` where one was produced, and
        `padding_id` after it.

    Raises:
        ValueError: for a bad argument or input (naming it), and when the
            model's logits for a row still decoding hold NaN or +Inf, or are
            all -Inf (no token can be chosen): the message names the step and
            the batch row. The check runs inside the compiled loop, which
            stops at the first such step; the error is raised after it.

    Example:

    >>> from kerastack.transformer import Seq2SeqTransformer
    >>> model = Seq2SeqTransformer(
    ...     encoder_vocabulary_size=20, hidden_dim=16, num_heads=2, intermediate_dim=32,
    ...     num_encoder_layers=1, num_decoder_layers=1, max_sequence_length=8)
    >>> sources = np.array([[5, 6, 7, 0], [8, 9, 0, 0]])  # 0 is the padding id
    >>> tokens = decode(model, sources, start_token_id=1, end_token_id=2, max_length=6)
    >>> tokens.shape, tokens.dtype
    ((2, 6), dtype('int32'))
    >>> beams = decode(model, sources, start_token_id=1, end_token_id=2, max_length=6,
    ...                strategy="beam", num_beams=3)
    >>> beams.shape
    (2, 6)
    """
    require_keras3("decode")
    temperature, top_k, top_p, num_beams, seed = _check_settings(
        strategy, temperature, top_k, top_p, num_beams, use_cache, seed
    )
    max_length = _check_length("max_length", max_length)
    if max_length > model.max_sequence_length:
        raise ValueError(
            f"`max_length`={max_length} needs {max_length} decoder positions (the start token "
            "and all generated tokens but the last), more than the model's "
            f"max_sequence_length={model.max_sequence_length}."
        )
    token_ids = _token_array("encoder_token_ids", encoder_token_ids)
    _check_token_range("encoder_token_ids", token_ids, model.encoder_vocabulary_size)
    start_token_id, end_token_id, padding_id = (
        _check_token_id(argument, value, model.decoder_vocabulary_size, allow_none)
        for argument, value, allow_none in (
            ("start_token_id", start_token_id, False),
            ("end_token_id", end_token_id, True),
            ("padding_id", padding_id, False),
        )
    )
    if encoder_padding_mask is None:
        if model.padding_id is not None:
            encoder_padding_mask = token_ids != model.padding_id
        else:
            encoder_padding_mask = np.ones(token_ids.shape, dtype=bool)
    mask = _mask_array("encoder_padding_mask", encoder_padding_mask, token_ids.shape)
    steps = _EncoderDecoderSteps(int(start_token_id), bool(use_cache))
    return _run(
        model,
        steps,
        token_ids,
        mask,
        strategy=strategy,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        num_beams=num_beams,
        # -1 is no token: nothing ever equals it.
        end_token_id=-1 if end_token_id is None else end_token_id,
        padding_id=padding_id,
        length=max_length,
        seed=seed,
    )


def generate(
    model,
    prompt_ids,
    *,
    max_new_tokens,
    prompt_padding_mask=None,
    end_token_id=None,
    strategy="greedy",
    temperature=1.0,
    top_k=None,
    top_p=None,
    num_beams=4,
    padding_id=0,
    seed=None,
    use_cache=True,
    bidirectional_prompt=False,
):
    """Continue a batch of prompts with a decoder-only language model.

    With the cache (the default), the prompt is read in one call that fills
    every block's key/value cache (the prefill), then each step reads the
    one token chosen last. Prompts of different lengths are padded on the
    left: each row's positions count from its first real token (as
    Hugging Face's `generate` does from the attention mask), and no token
    attends to the padding.

    Args:
        model: a decoder-only model with `vocabulary_size`,
            `max_sequence_length`, `initial_cache(batch_size, max_length)`
            and `decode_sequence(token_ids, position_ids=, padding_mask=,
            attention_mask=, cache=, cache_update_index=)` (kerastack-gpt's
            `GPT2CausalLM`).
        prompt_ids: int array `(B, P)`, `P >= 1`.
        max_new_tokens: int, the most tokens generated per row (L). The
            prompt and all generated tokens but the last must fit in the
            model: `P + max_new_tokens - 1 <= max_sequence_length`.
        prompt_padding_mask: boolean `(B, P)`, True on real tokens, padding
            on the left only (each row ends with its real tokens, at least
            one). All real when None: no token id is taken to be padding.
        end_token_id: int or None. A row stops growing once it has produced
            it; None never stops before `max_new_tokens`.
        strategy, temperature, top_k, top_p, num_beams, padding_id, seed,
            use_cache: as in `decode`.
        bidirectional_prompt: bool, a prefix language model (UniLM,
            Dong et al., 2019; kerastack-bert's `BertSeq2SeqLM`): the
            prompt's tokens attend to each other both ways, and each
            generated token to the prompt and to the generated tokens up to
            itself. `decode_sequence` then also receives `segment_ids`
            (0 on the prompt, 1 on generated tokens) and
            `use_causal_mask=False`, its `attention_mask` holding the whole
            pattern (the padding included).

    Returns:
        int32 NumPy array `(B, max_new_tokens)`: the generated tokens (the
        prompt not included), ending with `end_token_id` where one was
        produced, and `padding_id` after it.

    Raises:
        ValueError: as `decode`, for bad arguments and for logits from which
            no token can be chosen (NaN, +Inf, all -Inf).

    Example:

    A toy language model whose next token is always the last one plus 1
    (`use_cache=False` needs only `decode_sequence`; the cache also needs
    `initial_cache` and the cache arguments):

    >>> class Counter(keras.Model):
    ...     vocabulary_size, max_sequence_length = 10, 16
    ...     def decode_sequence(self, token_ids, **kwargs):  # logits (B, T, V)
    ...         return 10.0 * ops.one_hot((token_ids + 1) % 10, 10)
    >>> generate(Counter(), np.array([[3, 4], [0, 7]]), max_new_tokens=3, use_cache=False)
    array([[5, 6, 7],
           [8, 9, 0]], dtype=int32)
    >>> generate(Counter(), np.array([[3, 4], [0, 7]]), max_new_tokens=3, end_token_id=9,
    ...          padding_id=0, use_cache=False)
    array([[5, 6, 7],
           [8, 9, 0]], dtype=int32)
    """
    require_keras3("generate")
    temperature, top_k, top_p, num_beams, seed = _check_settings(
        strategy, temperature, top_k, top_p, num_beams, use_cache, seed
    )
    max_new_tokens = _check_length("max_new_tokens", max_new_tokens)
    token_ids = _token_array("prompt_ids", prompt_ids)
    if token_ids.shape[1] < 1:
        raise ValueError("`prompt_ids` must hold at least one token per row, received length 0.")
    needed = token_ids.shape[1] + max_new_tokens - 1
    if needed > model.max_sequence_length:
        raise ValueError(
            f"A prompt of length {token_ids.shape[1]} and max_new_tokens={max_new_tokens} need "
            f"{needed} positions (the prompt and all generated tokens but the last), more than "
            f"the model's max_sequence_length={model.max_sequence_length}."
        )
    _check_token_range("prompt_ids", token_ids, model.vocabulary_size)
    end_token_id = _check_token_id("end_token_id", end_token_id, model.vocabulary_size, True)
    padding_id = _check_token_id("padding_id", padding_id, model.vocabulary_size)
    if prompt_padding_mask is None:
        mask = np.ones(token_ids.shape, dtype=bool)
    else:
        mask = _mask_array("prompt_padding_mask", prompt_padding_mask, token_ids.shape)
        _check_left_padding(mask)
    if not isinstance(bidirectional_prompt, (bool, np.bool_)):
        raise ValueError(
            "`bidirectional_prompt` must be True or False, "
            f"received bidirectional_prompt={bidirectional_prompt!r}."
        )
    steps = _DecoderOnlySteps(bool(use_cache), bool(bidirectional_prompt))
    return _run(
        model,
        steps,
        token_ids,
        mask,
        strategy=strategy,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        num_beams=num_beams,
        # -1 is no token: nothing ever equals it.
        end_token_id=-1 if end_token_id is None else end_token_id,
        padding_id=padding_id,
        length=max_new_tokens,
        seed=seed,
    )


def _run(model, steps, token_ids, mask, **settings):
    """Decode with the compiled decoder of these settings (made on first use)."""
    settings["temperature"] = float(settings["temperature"])
    if settings["strategy"] != "beam":
        settings["num_beams"] = 1
    key = (steps.key(),) + tuple(sorted(settings.items()))
    if not model.built:
        model.build(None)
    compiled = _COMPILED.setdefault(model, {})
    if key not in compiled:
        compiled[key] = _Decoder(model, steps, **settings)
    return compiled[key](token_ids.astype("int32"), mask)


# -- what a step feeds ------------------------------------------------------------


class _EncoderDecoderSteps:
    """An encoder-decoder model: the encoder reads the source once; the
    decoder starts from `start_token_id` at position 0 and reads the token
    at `index` each step (the whole prefix without the cache).

    Buffer: the start token, then L slots (N = L + 1)."""

    def __init__(self, start_token_id, use_cache):
        self.start_token_id = start_token_id
        self.use_cache = use_cache
        self.prefill = False

    def key(self):
        return ("encoder-decoder", self.start_token_id, self.use_cache)

    def begin(self, model, token_ids, mask, copies, length, padding_id):
        """`(tokens (R, N), first index, cache, context)` with `copies` rows
        per example (every beam of an example attends to its source)."""
        encoder_outputs = model.encode(token_ids, mask)  # (B, S, D)
        if copies > 1:
            encoder_outputs = ops.repeat(encoder_outputs, copies, axis=0)  # (R, S, D)
            mask = ops.repeat(mask, copies, axis=0)  # (R, S)
        rows = ops.shape(encoder_outputs)[0]
        tokens = ops.concatenate(
            [
                ops.full((rows, 1), self.start_token_id, dtype="int32"),
                ops.full((rows, length), padding_id, dtype="int32"),
            ],
            axis=1,
        )  # (R, L + 1)
        cache = model.initial_cache(rows, length) if self.use_cache else []
        return tokens, 0, cache, (encoder_outputs, mask, length)

    def step(self, model, context, tokens, index, cache, first=False):
        """Logits `(R, V)` for the token after `index`, and the new cache."""
        encoder_outputs, mask, length = context
        rows = ops.shape(tokens)[0]
        if self.use_cache:
            current = ops.slice(tokens, [0, index], [rows, 1])  # (R, 1)
            logits, cache = model.decode_sequence(
                current,
                encoder_outputs,
                mask,
                # Generated tokens are real, even one equal to padding_id.
                decoder_padding_mask=ops.ones_like(current, dtype="bool"),
                cache=cache,
                cache_update_index=index,
            )
            return logits[:, 0, :], cache  # (R, V)
        # The fed part of the buffer, causally: positions after `index` do
        # not change the logits at `index`.
        fed = tokens[:, :length]  # (R, L)
        logits = model.decode_sequence(
            fed, encoder_outputs, mask, decoder_padding_mask=ops.ones_like(fed, "bool")
        )  # (R, L, V)
        return ops.take(logits, index, axis=1), cache  # (R, V)


class _DecoderOnlySteps:
    """A decoder-only model: the buffer holds the prompt, then L slots
    (N = P + L). Decoding begins at the prompt's last token (index P - 1).

    With the cache, the first step reads the whole prompt into a cache of
    C = P + L - 1 positions (every token but the last generated one is fed
    once) and later steps one token each; a token attends to the cache's
    real positions only (left padding excluded) and, causally, to those not
    after it. Without the cache, each step reads the first C tokens of the
    buffer whole.

    A prefix language model (`bidirectional_prompt`) gets the whole
    attention pattern instead of causality: key j is visible to query i
    when it is real and `j <= i` or `j < P` (a prompt token), with
    segment ids 0 on the prompt and 1 after it."""

    def __init__(self, use_cache, bidirectional_prompt=False):
        self.use_cache = use_cache
        self.bidirectional_prompt = bidirectional_prompt
        self.prefill = use_cache

    def key(self):
        return ("decoder-only", self.use_cache, self.bidirectional_prompt)

    def begin(self, model, token_ids, mask, copies, length, padding_id):
        if copies > 1:
            token_ids = ops.repeat(token_ids, copies, axis=0)  # (R, P)
            mask = ops.repeat(mask, copies, axis=0)  # (R, P)
        rows, prompt_length = ops.shape(token_ids)[0], token_ids.shape[1]
        tokens = ops.concatenate(
            [token_ids, ops.full((rows, length), padding_id, dtype="int32")], axis=1
        )  # (R, N)
        real = ops.concatenate([mask, ops.ones((rows, length), dtype="bool")], axis=1)  # (R, N)
        # Positions count real tokens only: left padding shifts nothing.
        positions = ops.maximum(ops.cumsum(ops.cast(real, "int32"), axis=1) - 1, 0)  # (R, N)
        cache_length = prompt_length + length - 1
        cache = model.initial_cache(rows, cache_length) if self.use_cache else []
        real = real[:, :cache_length]  # (R, C)
        pattern = None
        if self.bidirectional_prompt:
            order = ops.arange(cache_length, dtype="int32")  # (C,)
            visible = ops.logical_or(
                ops.expand_dims(order, 0) <= ops.expand_dims(order, 1),
                ops.expand_dims(order < prompt_length, 0),
            )  # (C, C): query i, key j
            pattern = ops.logical_and(ops.expand_dims(visible, 0), ops.expand_dims(real, 1))
        context = (
            real,  # (R, C)
            positions[:, :cache_length],  # (R, C)
            mask,  # (R, P)
            prompt_length,
            cache_length,
            pattern,  # (R, C, C) or None
        )
        return tokens, prompt_length - 1, cache, context

    def _prefix_arguments(self, pattern, rows, start, size, prompt_length):
        """`decode_sequence`'s extra arguments for queries `start ..
        start + size - 1` of a prefix language model (none otherwise)."""
        if pattern is None:
            return {}
        queries = ops.slice(pattern, [0, start, 0], [rows, size, pattern.shape[2]])  # (R, T, C)
        order = ops.arange(size, dtype="int32") + start  # (T,)
        segments = ops.cast(order >= prompt_length, "int32")  # (T,)
        return {
            "attention_mask": queries,
            "segment_ids": ops.broadcast_to(ops.expand_dims(segments, 0), (rows, size)),
            "use_causal_mask": False,
        }

    def step(self, model, context, tokens, index, cache, first=False):
        real, positions, prompt_mask, prompt_length, cache_length, pattern = context
        rows = ops.shape(tokens)[0]
        if not self.use_cache:
            extra = self._prefix_arguments(pattern, rows, 0, cache_length, prompt_length)
            logits = model.decode_sequence(
                tokens[:, :cache_length], position_ids=positions, padding_mask=real, **extra
            )  # (R, C, V)
            return ops.take(logits, index, axis=1), cache  # (R, V)
        keys = ops.expand_dims(real, 1)  # (R, 1, C): the real cache positions
        if first:
            extra = {"attention_mask": ops.broadcast_to(keys, (rows, prompt_length, cache_length))}
            extra.update(self._prefix_arguments(pattern, rows, 0, prompt_length, prompt_length))
            logits, cache = model.decode_sequence(
                tokens[:, :prompt_length],
                position_ids=positions[:, :prompt_length],
                padding_mask=prompt_mask,
                cache=cache,
                cache_update_index=0,
                **extra,
            )  # (R, P, V)
            return logits[:, -1, :], cache  # (R, V)
        extra = {"attention_mask": keys}
        extra.update(self._prefix_arguments(pattern, rows, index, 1, prompt_length))
        logits, cache = model.decode_sequence(
            ops.slice(tokens, [0, index], [rows, 1]),  # (R, 1)
            position_ids=ops.slice(positions, [0, index], [rows, 1]),  # (R, 1)
            cache=cache,
            cache_update_index=index,
            **extra,
        )  # (R, 1, V)
        return logits[:, 0, :], cache  # (R, V)


# -- the loops ------------------------------------------------------------------------


class _Decoder:
    """One compiled decoding function for one model, one kind of steps and
    one set of settings."""

    def __init__(
        self,
        model,
        steps,
        strategy,
        temperature,
        top_k,
        top_p,
        num_beams,
        end_token_id,
        padding_id,
        length,
        seed,
    ):
        # A weak reference: this object lives in _COMPILED under the model as
        # its key, and a strong one would keep the model alive forever.
        self._model = weakref.ref(model)
        self.steps = steps
        self.strategy = strategy
        self.temperature = temperature
        self.top_k = top_k
        self.top_p = top_p
        self.num_beams = num_beams
        self.end_token_id = end_token_id
        self.padding_id = padding_id
        self.length = length
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._initial_seed_state = ops.convert_to_numpy(self.seed_generator.state.value)
        self.traces = 0  # how many times the loop was traced (or run eagerly)
        loop = self._beam_search if strategy == "beam" else self._search
        self.function = compile_function(
            loop, model.variables, updated_variables=[self.seed_generator.state]
        )

    @property
    def model(self):
        return self._model()

    def __call__(self, token_ids, mask):
        if self.seed is not None:
            self.seed_generator.state.assign(self._initial_seed_state)
        tokens, bad_step = self.function(token_ids, mask)
        bad_step = np.asarray(ops.convert_to_numpy(bad_step))
        rows = np.flatnonzero(bad_step >= 0)
        if rows.size:
            row, step = int(rows[0]), int(bad_step[rows[0]])
            raise ValueError(
                f"The model's logits hold NaN or +Inf, or are all -Inf, at decoding step {step} "
                f"(token {step + 1} of {self.length}) for batch row {row}"
                + (f" and {rows.size - 1} more rows" if rows.size > 1 else "")
                + f" (strategy={self.strategy!r}): no token can be chosen from them. "
                "Check the model's weights and inputs (a float16 overflow, for example)."
            )
        return np.asarray(ops.convert_to_numpy(tokens)).astype("int32")

    def _loop(self, body, condition, state):
        """`body` once outside the loop when the steps begin with a prefill
        (a step of its own shape), then `ops.while_loop` for the rest."""
        iterations = self.length
        if self.steps.prefill:
            state = body(*state, first=True)
            iterations -= 1
        if iterations == 0:
            return state
        return ops.while_loop(condition, body, state, maximum_iterations=iterations)

    # -- greedy and sampling ----------------------------------------------------

    def _search(self, token_ids, mask):
        self.traces += 1
        model = self.model
        tokens, first_index, cache, context = self.steps.begin(
            model, token_ids, mask, 1, self.length, self.padding_id
        )  # tokens (R, N)
        rows = ops.shape(tokens)[0]
        finished = ops.zeros((rows,), dtype="bool")
        bad_step = ops.full((rows,), -1, dtype="int32")  # (R,): see _mark_unusable
        last_index = first_index + self.length

        def condition(index, tokens, finished, bad_step, cache, seed_state):
            return _go_on(index, last_index, finished, bad_step)

        def body(index, tokens, finished, bad_step, cache, seed_state, first=False):
            logits, cache = self.steps.step(model, context, tokens, index, cache, first)
            bad_step, logits = _mark_unusable(bad_step, logits, finished, index - first_index)
            next_token, seed_state = self._choose(logits, seed_state)  # (R,)
            next_token = ops.where(finished, self.padding_id, next_token)
            tokens = ops.slice_update(tokens, [0, index + 1], ops.expand_dims(next_token, 1))
            finished = ops.logical_or(finished, ops.equal(next_token, self.end_token_id))
            return index + 1, tokens, finished, bad_step, cache, seed_state

        state = (
            ops.convert_to_tensor(first_index, dtype="int32"),
            tokens,
            finished,
            bad_step,
            cache,
            self.seed_generator.state.value,
        )
        _, tokens, _, bad_step, _, seed_state = self._loop(body, condition, state)
        self.seed_generator.state.assign(seed_state)
        return tokens[:, first_index + 1 :], bad_step  # (B, L), (B,)

    def _choose(self, logits, seed_state):
        """The next token of each row of `(R, V)` float32 logits, and the new
        state of the random seed.

        The seed's state travels through the loop as a loop variable: a
        variable updated inside a compiled loop body would leak the body's
        values out of it (JAX), so the body draws randomness in a scope of
        its own and hands the new state on.
        """
        if self.strategy == "greedy":
            return ops.cast(ops.argmax(logits, axis=-1), "int32"), seed_state
        mapping = [(self.seed_generator.state, seed_state)]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            token = self._sample(logits)
        return token, scope.get_current_value(self.seed_generator.state)

    def _sample(self, logits):
        logits = logits / self.temperature
        vocabulary = logits.shape[-1]
        k = min(self.top_k or vocabulary, vocabulary)
        # Candidates in descending order: the top k (all tokens without top_k).
        sorted_logits, sorted_ids = ops.top_k(logits, k)  # (R, k)
        if self.top_p is not None:
            probabilities = ops.softmax(sorted_logits, axis=-1)
            before = ops.cumsum(probabilities, axis=-1) - probabilities
            # Keep the smallest prefix whose probability reaches top_p (the
            # first candidate always stays).
            sorted_logits = ops.where(
                before >= self.top_p, large_negative("float32"), sorted_logits
            )
        choice = keras.random.categorical(
            sorted_logits, 1, dtype="int32", seed=self.seed_generator
        )  # (R, 1)
        return ops.cast(ops.take_along_axis(sorted_ids, choice, axis=-1)[:, 0], "int32")

    # -- beam search --------------------------------------------------------------

    def _beam_search(self, token_ids, mask):
        self.traces += 1
        model = self.model
        beams = self.num_beams
        batch = ops.shape(token_ids)[0]
        tokens, first_index, cache, context = self.steps.begin(
            model, token_ids, mask, beams, self.length, self.padding_id
        )  # tokens (B*K, N): the beams of an example are consecutive rows
        width = tokens.shape[1]
        tokens = ops.reshape(tokens, (batch, beams, width))  # (B, K, N)
        # Only the first beam is live at the start, so the first step does not
        # pick the same token K times.
        first = ops.concatenate(
            [
                ops.zeros((batch, 1), dtype="float32"),
                ops.full((batch, beams - 1), large_negative("float32"), dtype="float32"),
            ],
            axis=1,
        )  # (B, K)
        finished = ops.zeros((batch, beams), dtype="bool")
        bad_step = ops.full((batch,), -1, dtype="int32")  # (B,): see _mark_unusable
        last_index = first_index + self.length

        def condition(index, tokens, scores, finished, bad_step, cache):
            return _go_on(index, last_index, finished, bad_step)

        def body(index, tokens, scores, finished, bad_step, cache, first=False):
            rows = ops.reshape(tokens, (batch * beams, width))  # (B*K, N)
            logits, cache = self.steps.step(model, context, rows, index, cache, first)
            # An example is unusable when any of its beams still decoding is.
            beam_bad, logits = _mark_unusable(
                ops.full((batch * beams,), -1, dtype="int32"),
                logits,
                ops.reshape(finished, (batch * beams,)),
                index - first_index,
            )  # (B*K,)
            unusable = ops.any(ops.reshape(beam_bad >= 0, (batch, beams)), axis=1)  # (B,)
            bad_step = ops.where(
                ops.logical_and(unusable, bad_step < 0), index - first_index, bad_step
            )  # (B,)
            log_probs = ops.log_softmax(logits, axis=-1)  # (B*K, V)
            vocabulary = log_probs.shape[-1]
            log_probs = ops.reshape(log_probs, (batch, beams, vocabulary))  # (B, K, V)
            # A finished beam continues only with padding, at no cost.
            only_padding = ops.where(
                ops.arange(vocabulary) == self.padding_id, 0.0, large_negative("float32")
            )  # (V,)
            log_probs = ops.where(ops.expand_dims(finished, -1), only_padding, log_probs)
            candidates = ops.reshape(
                ops.expand_dims(scores, -1) + log_probs, (batch, beams * vocabulary)
            )  # (B, K*V)
            scores, flat = ops.top_k(candidates, beams)  # (B, K)
            origin = flat // vocabulary  # (B, K): the beam each candidate extends
            next_token = ops.cast(flat % vocabulary, "int32")
            tokens = ops.take_along_axis(tokens, ops.expand_dims(origin, -1), axis=1)
            tokens = ops.slice_update(tokens, [0, 0, index + 1], ops.expand_dims(next_token, -1))
            was_finished = ops.take_along_axis(finished, origin, axis=1)
            finished = ops.logical_or(was_finished, ops.equal(next_token, self.end_token_id))
            cache = [
                tuple(_reorder(part, origin, batch, beams) for part in layer_cache)
                for layer_cache in cache
            ]
            return index + 1, tokens, scores, finished, bad_step, cache

        state = (
            ops.convert_to_tensor(first_index, dtype="int32"),
            tokens,
            first,
            finished,
            bad_step,
            cache,
        )
        _, tokens, scores, _, bad_step, _ = self._loop(body, condition, state)
        best = ops.expand_dims(ops.argmax(scores, axis=-1), (1, 2))  # (B, 1, 1)
        tokens = ops.take_along_axis(tokens, best, axis=1)[:, 0, first_index + 1 :]  # (B, L)
        return tokens, bad_step


def _unusable(logits):
    """`(R,)` whether a row of `(R, V)` logits cannot choose a token: it holds
    NaN or +Inf, or every entry is -Inf. (-Inf on some tokens is a ban.)"""
    broken = ops.logical_or(ops.isnan(logits), ops.logical_and(ops.isinf(logits), logits > 0))
    nothing = ops.all(ops.logical_and(ops.isinf(logits), logits < 0), axis=-1)
    return ops.logical_or(ops.any(broken, axis=-1), nothing)  # (R,)


def _mark_unusable(bad_step, logits, finished, step):
    """`(bad_step, logits)`. `bad_step` `(R,)` is -1 for rows whose logits
    were usable so far, else the first step at which a row still decoding
    got unusable ones. Unusable rows of `logits` become zeros, so that
    choosing from them works on every backend (PyTorch's sampler raises on
    NaN); the loop stops after this step and the caller raises."""
    unusable = _unusable(logits)  # (R,)
    marked = ops.logical_and(unusable, ops.logical_not(finished))
    bad_step = ops.where(ops.logical_and(marked, bad_step < 0), step, bad_step)
    return bad_step, ops.where(ops.expand_dims(unusable, -1), 0.0, logits)


def _go_on(index, last_index, finished, bad_step):
    """Whether the loop goes on: tokens left to make, a row still decoding,
    and no unusable logits yet (the caller raises for those)."""
    return ops.logical_and(
        ops.logical_and(index < last_index, ops.logical_not(ops.all(finished))),
        ops.all(bad_step < 0),
    )


def _reorder(cache, origin, batch, beams):
    """Cache rows `(B*K, ...)` of the beams each new beam extends."""
    shape = ops.shape(cache)
    per_beam = ops.reshape(cache, (batch, beams) + tuple(shape[1:]))  # (B, K, ...)
    index = ops.reshape(origin, (batch, beams) + (1,) * (len(shape) - 1))
    per_beam = ops.take_along_axis(per_beam, index, axis=1)
    return ops.reshape(per_beam, shape)


# -- argument checks ------------------------------------------------------------------


def _check_settings(strategy, temperature, top_k, top_p, num_beams, use_cache=True, seed=None):
    """The settings as plain Python numbers: `(temperature, top_k, top_p,
    num_beams, seed)`, or a `ValueError` naming the first bad one."""
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {STRATEGIES}, received strategy={strategy!r}.")
    temperature = check_float("temperature", temperature, minimum=0.0, exclusive_minimum=True)
    top_k = check_int("top_k", top_k, allow_none=True)
    top_p = check_float(
        "top_p", top_p, minimum=0.0, maximum=1.0, exclusive_minimum=True, allow_none=True
    )
    num_beams = check_int("num_beams", num_beams)
    seed = check_int("seed", seed, minimum=0, allow_none=True)
    sampling = {
        "temperature": temperature != 1.0,
        "top_k": top_k is not None,
        "top_p": top_p is not None,
    }
    if strategy != "sample":
        for argument, given in sampling.items():
            if given:
                raise ValueError(
                    f"`{argument}` applies to strategy='sample' only, "
                    f"received strategy={strategy!r}."
                )
    if strategy == "beam" and not use_cache:
        raise ValueError("Beam search always uses the cache; received use_cache=False.")
    return temperature, top_k, top_p, num_beams, seed


def _check_length(argument, value):
    return check_int(argument, value)


def _check_token_id(argument, value, vocabulary_size, allow_none=False):
    """One token id as a Python int in [0, vocabulary_size) (or None)."""
    value = check_int(argument, value, minimum=0, allow_none=allow_none)
    if value is not None:
        _check_token_range(argument, np.asarray([value]), vocabulary_size)
    return value


def _token_array(argument, token_ids):
    token_ids = np.asarray(ops.convert_to_numpy(token_ids))
    if token_ids.ndim != 2 or not np.issubdtype(token_ids.dtype, np.integer):
        raise ValueError(
            f"`{argument}` must be an integer array of shape (batch, length), received "
            f"dtype {token_ids.dtype} and shape {token_ids.shape}."
        )
    return token_ids


def _mask_array(argument, mask, shape):
    mask = np.asarray(ops.convert_to_numpy(mask)).astype(bool)
    if mask.shape != shape:
        raise ValueError(
            f"`{argument}` must have the shape of the token ids {shape}, received {mask.shape}."
        )
    return mask


def _check_left_padding(mask):
    """Each row: padding, then its real tokens (at least one) to the end."""
    empty = np.flatnonzero(~mask.any(axis=1))
    if empty.size:
        raise ValueError(
            f"`prompt_padding_mask` row {int(empty[0])} has no real token; every prompt needs one."
        )
    # Left padding: once a row is real, it stays real.
    not_left = np.flatnonzero((mask[:, :-1] & ~mask[:, 1:]).any(axis=1))
    if not_left.size:
        raise ValueError(
            f"`prompt_padding_mask` row {int(not_left[0])} has padding after a real token; "
            "pad prompts on the left (the real tokens last), as generation continues from "
            "each row's last position."
        )


def _check_token_range(argument, token_ids, vocabulary_size):
    if token_ids.size and (token_ids.min() < 0 or token_ids.max() >= vocabulary_size):
        bad = token_ids[(token_ids < 0) | (token_ids >= vocabulary_size)]
        raise ValueError(
            f"`{argument}` holds token id {int(bad.flat[0])}, outside the vocabulary "
            f"[0, {vocabulary_size})."
        )
