"""Autoregressive decoding for `Seq2SeqTransformer`: greedy, sampling
(temperature, top-k, top-p) and beam search.

The whole loop (encoder pass, then one cached decoder step per token, until
every sequence has produced the end token or `max_length` tokens) is one
function compiled by `kerastack.core.compile_function`: a `tf.function` on
TensorFlow and `jax.jit` on JAX, traced once per input shape and decoding
settings and reused on later calls; PyTorch runs it eagerly.

Letters: B batch, S source length, L `max_length`, K beams, V vocabulary.
"""

import weakref

import numpy as np

from kerastack.core import compile_function, keras, large_negative, ops, require_keras3

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
        end_token_id: int, the token that ends a target; a sequence stops
            growing once it has produced it.
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
    """
    require_keras3("decode")
    _check_settings(strategy, temperature, top_k, top_p, num_beams)
    if strategy == "beam" and not use_cache:
        raise ValueError("Beam search always uses the cache; received use_cache=False.")
    if not isinstance(max_length, int) or max_length < 1:
        raise ValueError(
            f"`max_length` must be a positive int, received max_length={max_length!r}."
        )
    if max_length > model.max_sequence_length:
        raise ValueError(
            f"`max_length`={max_length} needs {max_length} decoder positions (the start token "
            "and all generated tokens but the last), more than the model's "
            f"max_sequence_length={model.max_sequence_length}."
        )
    token_ids = np.asarray(keras.ops.convert_to_numpy(encoder_token_ids))
    if token_ids.ndim != 2 or not np.issubdtype(token_ids.dtype, np.integer):
        raise ValueError(
            "`encoder_token_ids` must be an integer array of shape (batch, length), received "
            f"dtype {token_ids.dtype} and shape {token_ids.shape}."
        )
    _check_token_range("encoder_token_ids", token_ids, model.encoder_vocabulary_size)
    for argument, value in (
        ("start_token_id", start_token_id),
        ("end_token_id", end_token_id),
        ("padding_id", padding_id),
    ):
        _check_token_range(argument, np.asarray([value]), model.decoder_vocabulary_size)
    if encoder_padding_mask is None:
        if model.padding_id is not None:
            encoder_padding_mask = token_ids != model.padding_id
        else:
            encoder_padding_mask = np.ones(token_ids.shape, dtype=bool)
    mask = np.asarray(ops.convert_to_numpy(encoder_padding_mask)).astype(bool)
    if mask.shape != token_ids.shape:
        raise ValueError(
            f"`encoder_padding_mask` must have the shape of encoder_token_ids {token_ids.shape}, "
            f"received {mask.shape}."
        )
    settings = (
        strategy,
        float(temperature),
        top_k,
        top_p,
        num_beams if strategy == "beam" else 1,
        int(start_token_id),
        int(end_token_id),
        int(padding_id),
        max_length,
        seed,
        bool(use_cache),
    )
    if not model.built:
        model.build(None)
    compiled = _COMPILED.setdefault(model, {})
    if settings not in compiled:
        compiled[settings] = _Decoder(model, *settings)
    return compiled[settings](token_ids.astype("int32"), mask)


class _Decoder:
    """One compiled decoding function for one model and one set of settings."""

    def __init__(
        self,
        model,
        strategy,
        temperature,
        top_k,
        top_p,
        num_beams,
        start_token_id,
        end_token_id,
        padding_id,
        max_length,
        seed,
        use_cache,
    ):
        # A weak reference: this object lives in _COMPILED under the model as
        # its key, and a strong one would keep the model alive forever.
        self._model = weakref.ref(model)
        self.use_cache = use_cache
        self.strategy = strategy
        self.temperature = temperature
        self.top_k = top_k
        self.top_p = top_p
        self.num_beams = num_beams
        self.start_token_id = start_token_id
        self.end_token_id = end_token_id
        self.padding_id = padding_id
        self.max_length = max_length
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
        tokens = self.function(token_ids, mask)
        return np.asarray(ops.convert_to_numpy(tokens)).astype("int32")

    # -- greedy and sampling ----------------------------------------------------

    def _search(self, token_ids, mask):
        self.traces += 1
        model = self.model
        batch = ops.shape(token_ids)[0]
        encoder_outputs = model.encode(token_ids, mask)  # (B, S, D)
        cache = model.initial_cache(batch, self.max_length) if self.use_cache else []
        tokens = ops.concatenate(
            [
                ops.full((batch, 1), self.start_token_id, dtype="int32"),
                ops.full((batch, self.max_length), self.padding_id, dtype="int32"),
            ],
            axis=1,
        )  # (B, L + 1)
        finished = ops.zeros((batch,), dtype="bool")

        def condition(index, tokens, finished, cache, seed_state):
            return ops.logical_and(index < self.max_length, ops.logical_not(ops.all(finished)))

        def body(index, tokens, finished, cache, seed_state):
            if self.use_cache:
                current = ops.slice(tokens, [0, index], [batch, 1])  # (B, 1)
                logits, cache = model.decode_sequence(
                    current,
                    encoder_outputs,
                    mask,
                    # Generated tokens are real, even one equal to padding_id.
                    decoder_padding_mask=ops.ones_like(current, dtype="bool"),
                    cache=cache,
                    cache_update_index=index,
                )
                logits = logits[:, 0, :]  # (B, V)
            else:
                # The fed part of the buffer, causally: positions after
                # `index` do not change the logits at `index`.
                fed = tokens[:, : self.max_length]  # (B, L)
                logits = model.decode_sequence(
                    fed, encoder_outputs, mask, decoder_padding_mask=ops.ones_like(fed, "bool")
                )  # (B, L, V)
                logits = ops.take(logits, index, axis=1)  # (B, V)
            next_token, seed_state = self._choose(logits, seed_state)  # (B,)
            next_token = ops.where(finished, self.padding_id, next_token)
            tokens = ops.slice_update(tokens, [0, index + 1], ops.expand_dims(next_token, 1))
            finished = ops.logical_or(finished, ops.equal(next_token, self.end_token_id))
            return index + 1, tokens, finished, cache, seed_state

        seed_state = self.seed_generator.state.value
        _, tokens, _, _, seed_state = ops.while_loop(
            condition,
            body,
            (ops.convert_to_tensor(0, dtype="int32"), tokens, finished, cache, seed_state),
            maximum_iterations=self.max_length,
        )
        self.seed_generator.state.assign(seed_state)
        return tokens[:, 1:]  # (B, L)

    def _choose(self, logits, seed_state):
        """The next token of each row of `(B, V)` float32 logits, and the new
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
        sorted_logits, sorted_ids = ops.top_k(logits, k)  # (B, k)
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
        )  # (B, 1)
        return ops.cast(ops.take_along_axis(sorted_ids, choice, axis=-1)[:, 0], "int32")

    # -- beam search --------------------------------------------------------------

    def _beam_search(self, token_ids, mask):
        self.traces += 1
        model = self.model
        beams = self.num_beams
        batch = ops.shape(token_ids)[0]
        encoder_outputs = model.encode(token_ids, mask)  # (B, S, D)
        # Every beam of an example attends to that example's source.
        encoder_outputs = ops.repeat(encoder_outputs, beams, axis=0)  # (B*K, S, D)
        beam_mask = ops.repeat(mask, beams, axis=0)  # (B*K, S)
        cache = model.initial_cache(batch * beams, self.max_length)
        tokens = ops.concatenate(
            [
                ops.full((batch, beams, 1), self.start_token_id, dtype="int32"),
                ops.full((batch, beams, self.max_length), self.padding_id, dtype="int32"),
            ],
            axis=2,
        )  # (B, K, L + 1)
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

        def condition(index, tokens, scores, finished, cache):
            return ops.logical_and(index < self.max_length, ops.logical_not(ops.all(finished)))

        def body(index, tokens, scores, finished, cache):
            current = ops.reshape(
                ops.slice(tokens, [0, 0, index], [batch, beams, 1]), (batch * beams, 1)
            )  # (B*K, 1)
            logits, cache = model.decode_sequence(
                current,
                encoder_outputs,
                beam_mask,
                decoder_padding_mask=ops.ones_like(current, dtype="bool"),
                cache=cache,
                cache_update_index=index,
            )
            log_probs = ops.log_softmax(logits[:, 0, :], axis=-1)  # (B*K, V)
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
            return index + 1, tokens, scores, finished, cache

        _, tokens, scores, _, _ = ops.while_loop(
            condition,
            body,
            (ops.convert_to_tensor(0, dtype="int32"), tokens, first, finished, cache),
            maximum_iterations=self.max_length,
        )
        best = ops.expand_dims(ops.argmax(scores, axis=-1), (1, 2))  # (B, 1, 1)
        return ops.take_along_axis(tokens, best, axis=1)[:, 0, 1:]  # (B, L)


def _reorder(cache, origin, batch, beams):
    """Cache rows `(B*K, ...)` of the beams each new beam extends."""
    shape = ops.shape(cache)
    per_beam = ops.reshape(cache, (batch, beams) + tuple(shape[1:]))  # (B, K, ...)
    index = ops.reshape(origin, (batch, beams) + (1,) * (len(shape) - 1))
    per_beam = ops.take_along_axis(per_beam, index, axis=1)
    return ops.reshape(per_beam, shape)


def _check_settings(strategy, temperature, top_k, top_p, num_beams):
    if strategy not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {STRATEGIES}, received strategy={strategy!r}.")
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
    if not temperature > 0:
        raise ValueError(f"`temperature` must be positive, received temperature={temperature!r}.")
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"`top_k` must be a positive int, received top_k={top_k!r}.")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"`top_p` must be in (0, 1], received top_p={top_p!r}.")
    if strategy == "beam" and (not isinstance(num_beams, int) or num_beams < 1):
        raise ValueError(f"`num_beams` must be a positive int, received num_beams={num_beams!r}.")


def _check_token_range(argument, token_ids, vocabulary_size):
    if token_ids.size and (token_ids.min() < 0 or token_ids.max() >= vocabulary_size):
        bad = token_ids[(token_ids < 0) | (token_ids >= vocabulary_size)]
        raise ValueError(
            f"`{argument}` holds token id {int(bad.flat[0])}, outside the vocabulary "
            f"[0, {vocabulary_size})."
        )
