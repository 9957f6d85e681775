"""`kerastack.transformer.decode`: greedy against an uncached reference loop,
beam search (one beam is greedy, exact search with enough beams, K beams
score at least as well as greedy here), sampling (seeded reproducibility,
top-k and top-p limits), stopping at the end token, one trace per settings,
fresh weights on every call, and argument checks.

Every test decodes the same source batch shape with the one shared model,
so on TensorFlow and JAX each set of settings is compiled once for the
whole module (JAX compiles take seconds each).

Letters: B batch, S source length, L `max_length`, K beams, V vocabulary.
"""

import functools
import subprocess
import sys

import keras
import numpy as np
import pytest

from kerastack.transformer import Seq2SeqTransformer, decode, decoding
from tests.testing import TestCase, to_numpy
from tests.transformer import reference
from tests.transformer.helpers import randomize

BACKEND = keras.config.backend()
V, MAX_SEQUENCE_LENGTH, L = 12, 8, 6
START, PAD = 1, 0
SOURCE = np.array([[3, 4, 5, 6, 7], [8, 9, 10, 11, 2], [5, 5, 4, 4, 3]], "int32")
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], bool)


@functools.cache
def shared_model():
    model = Seq2SeqTransformer(
        encoder_vocabulary_size=V,
        hidden_dim=8,
        num_heads=2,
        intermediate_dim=16,
        num_encoder_layers=1,
        num_decoder_layers=1,
        max_sequence_length=MAX_SEQUENCE_LENGTH,
    )
    model({"encoder_token_ids": SOURCE, "decoder_token_ids": SOURCE})
    # Seed 7: varied greedy outputs, and no near-ties (the top two
    # log-probabilities along the greedy paths differ by more than 0.09).
    randomize(model, 7)
    # No output bias: with one, a few tokens win at every step.
    model.output_projection.bias.assign(np.zeros(V, "float32"))
    return model


def full_log_probs(model, target_inputs):
    """Uncached full pass: log-softmax `(B, T, V)` for decoder inputs `(B, T)`."""
    logits = model(
        {
            "encoder_token_ids": SOURCE,
            "decoder_token_ids": np.asarray(target_inputs, "int32"),
            "encoder_padding_mask": MASK,
        }
    )
    return reference.log_softmax(to_numpy(logits))


def reference_greedy(model, end, max_length=L):
    """Greedy decoding the slow way: at each step the model, uncached, on the
    whole prefix. The prefix is padded to a fixed width (so that eager JAX
    reuses its compiled ops); being causal, the model reads position `t`
    from positions `<= t` only, exactly as on the bare prefix."""
    tokens = np.full((len(SOURCE), max_length), PAD, "int32")
    inputs = np.full((len(SOURCE), max_length), PAD, "int32")
    inputs[:, 0] = START
    finished = np.zeros(len(SOURCE), bool)
    for step in range(max_length):
        next_token = full_log_probs(model, inputs)[:, step].argmax(-1)
        next_token = np.where(finished, PAD, next_token)
        tokens[:, step] = next_token
        if step + 1 < max_length:
            inputs[:, step + 1] = next_token
        finished |= next_token == end
    return tokens


def sequence_log_probs(model, tokens, end):
    """Per row, the sum of log p(token) up to and including the first end token."""
    tokens = np.asarray(tokens)
    inputs = np.concatenate([np.full((len(tokens), 1), START), tokens[:, :-1]], axis=1)
    log_probs = full_log_probs(model, inputs)
    totals = []
    for row, chosen in zip(log_probs, tokens, strict=True):
        total = 0.0
        for t, token in enumerate(chosen):
            total += row[t, token]
            if token == end:
                break
        totals.append(total)
    return np.array(totals)


def assert_padded_after_end(test, tokens, end):
    for row in tokens:
        hits = np.flatnonzero(row == end)
        if hits.size:
            np.testing.assert_array_equal(row[hits[0] + 1 :], PAD)


@functools.cache
def stopping_point():
    """`(end_token, row, step)`: a token that `row` emits greedily at `step`
    (> 0) and not before, so that decoding stops early there."""
    free_run = reference_greedy(shared_model(), end=-1)
    for step in range(1, L - 1):
        for row, tokens in enumerate(free_run):
            token = int(tokens[step])
            if token != START and token not in tokens[:step]:
                return token, row, step
    raise AssertionError(f"no early stop possible in {free_run}")


def end_token():
    return stopping_point()[0]


def run(**kwargs):
    settings = {
        "start_token_id": START,
        "end_token_id": end_token(),
        "max_length": L,
        "encoder_padding_mask": MASK,
        **kwargs,
    }
    return decode(shared_model(), SOURCE, **settings)


class GreedyTest(TestCase):
    def test_matches_the_uncached_reference_loop(self):
        tokens = run()
        self.assertEqual(tokens.shape, (len(SOURCE), L))
        self.assertEqual(tokens.dtype, np.int32)
        expected = reference_greedy(shared_model(), end_token())
        np.testing.assert_array_equal(tokens, expected)

    def test_stops_at_the_end_token(self):
        tokens = run()
        # That row emits the end token at that step, then only padding.
        end, row, step = stopping_point()
        self.assertNotIn(end, tokens[row, :step])
        self.assertEqual(tokens[row, step], end)
        np.testing.assert_array_equal(tokens[row, step + 1 :], PAD)
        assert_padded_after_end(self, tokens, end_token())

    def test_generate_is_decode(self):
        tokens = shared_model().generate(
            SOURCE,
            start_token_id=START,
            end_token_id=end_token(),
            max_length=L,
            encoder_padding_mask=MASK,
        )
        np.testing.assert_array_equal(tokens, run())

    def test_compiled_once_not_retraced(self):
        first = run()
        second = run()
        np.testing.assert_array_equal(first, second)
        if BACKEND == "torch":
            pytest.skip(reason="PyTorch runs eagerly: nothing is traced")
        compiled = decoding._COMPILED[shared_model()]
        self.assertTrue(compiled)
        self.assertEqual({key: d.traces for key, d in compiled.items()}, dict.fromkeys(compiled, 1))

    def test_new_weights_are_picked_up(self):
        model = shared_model()
        before = run()
        saved = model.get_weights()
        try:
            # An output bias that makes the end token win at every step.
            bias = to_numpy(model.output_projection.bias).copy()
            bias[end_token()] = 1e4
            model.output_projection.bias.assign(bias)
            forced = run()
            expected = np.full_like(forced, PAD)
            expected[:, 0] = end_token()
            np.testing.assert_array_equal(forced, expected)
            np.testing.assert_array_equal(forced, reference_greedy(model, end_token()))
            # Entirely new weights.
            randomize(model, 99)
            np.testing.assert_array_equal(run(), reference_greedy(model, end_token()))
        finally:
            model.set_weights(saved)
        np.testing.assert_array_equal(run(), before)
        if BACKEND != "torch":
            traces = {d.traces for d in decoding._COMPILED[model].values()}
            self.assertEqual(traces, {1})


class BeamSearchTest(TestCase):
    def test_one_beam_is_greedy(self):
        np.testing.assert_array_equal(run(strategy="beam", num_beams=1), run())

    def test_beams_score_at_least_greedy_here(self):
        # Not a theorem of beam search, but true for this model and source;
        # exact search (below) is the guarantee.
        model = shared_model()
        beam = run(strategy="beam", num_beams=3)
        assert_padded_after_end(self, beam, end_token())
        greedy = run()
        beam_scores = sequence_log_probs(model, beam, end_token())
        greedy_scores = sequence_log_probs(model, greedy, end_token())
        self.assertTrue(np.all(beam_scores >= greedy_scores - 1e-5), (beam_scores, greedy_scores))

    def test_enough_beams_is_exact_search(self):
        # V**2 beams keep every prefix of length 2, so three steps find the
        # most likely sequence of at most three tokens: check against all.
        model, end, length = shared_model(), end_token(), 3
        beam = run(strategy="beam", num_beams=V * V, max_length=length)
        grid = np.array([(a, b) for a in range(V) for b in range(V)], "int32")  # (V*V, 2)
        for row in range(len(SOURCE)):
            source = np.repeat(SOURCE[row : row + 1], len(grid), axis=0)
            mask = np.repeat(MASK[row : row + 1], len(grid), axis=0)
            inputs = np.concatenate([np.full((len(grid), 1), START), grid], axis=1)
            logits = model(
                {
                    "encoder_token_ids": source,
                    "decoder_token_ids": inputs.astype("int32"),
                    "encoder_padding_mask": mask,
                }
            )
            log_probs = reference.log_softmax(to_numpy(logits)).reshape(V, V, length, V)
            best, best_tokens = -np.inf, None
            for a in range(V):
                first = log_probs[a, 0, 0, a]
                if a == end:
                    candidates = [(first, (a, PAD, PAD))]
                else:
                    candidates = []
                    for b in range(V):
                        second = first + log_probs[a, b, 1, b]
                        if b == end:
                            candidates.append((second, (a, b, PAD)))
                        else:
                            third = second + log_probs[a, b, 2]
                            c = int(third.argmax())
                            candidates.append((third[c], (a, b, c)))
                for score, tokens in candidates:
                    if score > best:
                        best, best_tokens = score, tokens
            np.testing.assert_array_equal(beam[row], best_tokens, err_msg=f"row {row}")


class SamplingTest(TestCase):
    def test_seeded_sampling_is_reproducible_and_stays_in_the_top_k(self):
        tokens = run(strategy="sample", top_k=3, temperature=0.7, seed=7)
        np.testing.assert_array_equal(
            run(strategy="sample", top_k=3, temperature=0.7, seed=7), tokens
        )
        assert_padded_after_end(self, tokens, end_token())
        inputs = np.concatenate([np.full((len(tokens), 1), START), tokens[:, :-1]], axis=1)
        log_probs = full_log_probs(shared_model(), inputs)
        for row, chosen in enumerate(tokens):
            for t, token in enumerate(chosen):
                top3 = np.argsort(log_probs[row, t])[-3:]
                self.assertIn(token, top3, f"row {row} step {t}")
                if token == end_token():
                    break
        # Sampling is not greedy here (with top_k=3 and 18 draws).
        self.assertFalse(np.array_equal(tokens, run()))

    def test_top_k_1_is_greedy(self):
        np.testing.assert_array_equal(run(strategy="sample", top_k=1), run())

    def test_tiny_top_p_is_greedy(self):
        np.testing.assert_array_equal(run(strategy="sample", top_p=1e-6), run())


class ArgumentTest(TestCase):
    def assert_rejected(self, text, source=SOURCE, **kwargs):
        settings = {"start_token_id": START, "end_token_id": 2, "max_length": L, **kwargs}
        with self.assertRaisesRegex(ValueError, text):
            decode(shared_model(), source, **settings)

    def test_unknown_strategy(self):
        self.assert_rejected("strategy='nucleus'", strategy="nucleus")

    def test_sampling_settings_with_greedy(self):
        self.assert_rejected("`top_k` applies to strategy='sample'", top_k=3)
        self.assert_rejected("`top_p` applies to strategy='sample'", strategy="beam", top_p=0.5)
        self.assert_rejected("`temperature` applies", temperature=0.5)

    def test_bad_sampling_settings(self):
        self.assert_rejected("top_k=0", strategy="sample", top_k=0)
        self.assert_rejected("top_p=0.0", strategy="sample", top_p=0.0)
        self.assert_rejected("temperature=0", strategy="sample", temperature=0)
        self.assert_rejected("num_beams=0", strategy="beam", num_beams=0)

    def test_max_length_too_long(self):
        self.assert_rejected(
            f"max_sequence_length={MAX_SEQUENCE_LENGTH}", max_length=MAX_SEQUENCE_LENGTH + 1
        )
        self.assert_rejected("max_length=0", max_length=0)

    def test_token_out_of_vocabulary(self):
        bad = SOURCE.copy()
        bad[1, 2] = V
        self.assert_rejected(f"token id {V}, outside the vocabulary", source=bad)
        self.assert_rejected("start_token_id", start_token_id=V)
        self.assert_rejected("end_token_id", end_token_id=-1)

    def test_bad_source(self):
        self.assert_rejected("integer array", source=SOURCE.astype("float32"))
        self.assert_rejected("shape", source=SOURCE[0])
        self.assert_rejected("encoder_padding_mask", encoder_padding_mask=MASK[:, :3])


LIFETIME_SCRIPT = """
import gc, weakref
import numpy as np
import pytest
from kerastack.transformer import Seq2SeqTransformer, decode, decoding
model = Seq2SeqTransformer(encoder_vocabulary_size=6, hidden_dim=8, num_heads=2,
    intermediate_dim=8, num_encoder_layers=1, num_decoder_layers=1, max_sequence_length=4)
decode(model, np.ones((1, 3), "int32"), start_token_id=1, end_token_id=2, max_length=3)
assert model in decoding._COMPILED
alive = weakref.ref(model)
del model
gc.collect()
assert alive() is None, "the compiled decoders keep the model alive"
assert len(decoding._COMPILED) == 0
"""


class CompiledDecoderLifetimeTest(TestCase):
    def test_compiled_decoders_do_not_keep_a_model_alive(self):
        # In a fresh process, so that nothing other tests left behind (stored
        # exceptions and their frames) can hold the model.
        result = subprocess.run(
            [sys.executable, "-c", LIFETIME_SCRIPT], capture_output=True, text=True, timeout=300
        )
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
