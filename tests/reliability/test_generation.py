"""Generation (`decode`, `generate`) on bad settings and broken models.

- `end_token_id=None` decodes to `max_length` (checked against greedy
  decoding written out with uncached model calls).
- Logits from which no token can be chosen (NaN, +Inf, all -Inf) are a
  ValueError naming the step and the batch row, for greedy, sampling and
  beam search; -Inf on some tokens only is a ban, and those tokens are
  never produced.
- Every setting (max_length, num_beams, top_k, top_p, temperature, seed,
  token ids) of the wrong type or out of range is a ValueError naming it;
  NumPy integers are accepted as ints.

One small model and one set of decoding settings per strategy, so that on
TensorFlow and JAX each loop is compiled once for the module (weights are
changed in place: the compiled loops read their current values).
"""

import contextlib
import functools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kerastack.core import keras, ops
from kerastack.transformer import Seq2SeqTransformer, decode

V, L = 12, 5
START = 1
SOURCE = np.array([[3, 4, 5, 6, 7], [8, 9, 10, 11, 2], [5, 5, 4, 4, 3]], "int32")
STRATEGIES = {
    "greedy": {},
    "sample": {"strategy": "sample", "seed": 3},
    "beam": {"strategy": "beam", "num_beams": 2},
}


@functools.cache
def model():
    keras.utils.set_random_seed(0)
    seq2seq = Seq2SeqTransformer(
        encoder_vocabulary_size=V,
        hidden_dim=8,
        num_heads=2,
        intermediate_dim=16,
        num_encoder_layers=1,
        num_decoder_layers=1,
        max_sequence_length=8,
    )
    seq2seq({"encoder_token_ids": SOURCE, "decoder_token_ids": SOURCE})
    rng = np.random.default_rng(0)
    for weight in seq2seq.weights:  # far from the initialization: varied tokens
        weight.assign(rng.normal(0.0, 0.5, size=weight.shape).astype("float32"))
    return seq2seq


def run(strategy="greedy", **kwargs):
    arguments = {"start_token_id": START, "end_token_id": None, "max_length": L}
    arguments.update(STRATEGIES[strategy])
    arguments.update(kwargs)
    return decode(model(), SOURCE, **arguments)


@contextlib.contextmanager
def changed(variable, change):
    """`variable` with `change(values)` applied in place, then restored."""
    original = np.array(ops.convert_to_numpy(variable))
    values = original.copy()
    change(values)
    variable.assign(values)
    try:
        yield
    finally:
        variable.assign(original)


def test_decode_without_an_end_token_runs_to_max_length():
    tokens = run()
    # Greedy decoding written out: the model, uncached, on the whole prefix.
    prefix = np.full((len(SOURCE), L + 1), 0, "int32")
    prefix[:, 0] = START
    for step in range(L):
        logits = model()({"encoder_token_ids": SOURCE, "decoder_token_ids": prefix[:, :L]})
        prefix[:, step + 1] = np.asarray(ops.convert_to_numpy(logits))[:, step].argmax(-1)
    np.testing.assert_array_equal(tokens, prefix[:, 1:])


@pytest.mark.parametrize("strategy", tuple(STRATEGIES))
def test_unusable_logits_are_an_error_naming_the_step_and_row(strategy):
    run(strategy)  # usable logits: no error
    table = model().encoder_token_embedding.embeddings

    # Token 9 appears in source row 1 only: that row's logits are NaN from
    # the first step.
    def poison(values):
        values[9] = np.nan

    with changed(table, poison), pytest.raises(ValueError, match=r"step 0 .*batch row 1\b"):
        run(strategy)
    # Every logit -Inf: nothing can be chosen, from row 0 on.
    bias = model().output_projection.bias

    def all_minus_inf(values):
        values[:] = -np.inf

    with changed(bias, all_minus_inf), pytest.raises(ValueError, match=r"step 0 .*batch row 0\b"):
        run(strategy)

    # +Inf on one token.
    def plus_inf(values):
        values[4] = np.inf

    with changed(bias, plus_inf), pytest.raises(ValueError, match=r"NaN or \+Inf"):
        run(strategy)


def test_unusable_logits_at_a_later_step():
    """The decoder's embedding of a token greedy produces becomes NaN: the
    error names the first step that feeds it, and its row."""
    clean = run()
    token = int(clean[0, 0])
    fed = np.concatenate([np.full((len(SOURCE), 1), START), clean[:, :-1]], axis=1)  # (B, L)
    steps = np.where((fed == token).any(1), (fed == token).argmax(1), L)
    step = int(steps.min())
    row = int(np.flatnonzero(steps == step)[0])
    table = model().decoder_token_embedding.embeddings

    def poison(values):
        values[token] = np.nan

    with changed(table, poison):
        with pytest.raises(ValueError, match=rf"step {step} .*batch row {row}\b"):
            run()


@pytest.mark.parametrize("strategy", tuple(STRATEGIES))
def test_minus_inf_on_some_tokens_is_a_ban(strategy):
    banned = [2, 3, 4, 5, 6]
    bias = model().output_projection.bias

    def ban(values):
        values[banned] = -np.inf

    with changed(bias, ban):
        tokens = run(strategy)
    assert not np.isin(tokens, banned).any()


BAD_SETTINGS = {
    "max_length": [0, -1, 2.0, True, "5", None, 99],
    "num_beams": [0, -2, 2.5, False, "2"],
    "top_k": [0, -1, 1.5, True, "3"],
    "top_p": [0.0, -0.5, 1.5, float("nan"), float("inf"), "0.9", True],
    "temperature": [0.0, -1.0, float("nan"), float("inf"), "1", True],
    "seed": [-1, 1.5, "0", True],
    "start_token_id": [-1, V, 1.0, True, None, "1"],
    "end_token_id": [-1, V, 2.0, True, "2"],
    "padding_id": [-1, V, 0.0, None],
    "strategy": ["top", None, 3],
}


@given(data=st.data())
def test_bad_settings_are_value_errors_naming_them(data):
    argument = data.draw(st.sampled_from(sorted(BAD_SETTINGS)))
    value = data.draw(st.sampled_from(BAD_SETTINGS[argument]))
    kwargs = {argument: value}
    if argument in ("top_k", "top_p", "temperature", "seed"):
        kwargs["strategy"] = "sample"
    if argument == "num_beams":
        kwargs["strategy"] = "beam"
    strategy = kwargs.pop("strategy", "greedy") if argument != "strategy" else None
    if argument == "strategy":
        with pytest.raises(ValueError, match=r"`strategy`"):
            decode(model(), SOURCE, start_token_id=START, end_token_id=None, max_length=L, **kwargs)
        return
    with pytest.raises(ValueError, match=rf"`?{argument}`?"):
        run(strategy, **kwargs)


def test_numpy_integers_are_ints():
    expected = run("beam")
    tokens = run(
        "beam",
        max_length=np.int64(L),
        num_beams=np.int32(2),
        start_token_id=np.int64(START),
        padding_id=np.int16(0),
    )
    np.testing.assert_array_equal(tokens, expected)


def test_generate_raises_for_unusable_logits():
    from kerastack.gpt import GPT2Backbone, GPT2CausalLM

    keras.utils.set_random_seed(0)
    lm = GPT2CausalLM(
        GPT2Backbone(
            vocabulary_size=V,
            num_layers=1,
            num_heads=2,
            hidden_dim=8,
            intermediate_dim=16,
            max_sequence_length=8,
        )
    )
    prompt = SOURCE[:, :3]
    assert lm.generate(prompt, max_new_tokens=3, end_token_id=None).shape == (3, 3)
    table = lm.backbone.token_embedding.embeddings

    # The output layer is the tied embedding: a NaN row makes every row's
    # logits NaN.
    def poison(values):
        values[7] = np.nan

    with changed(table, poison), pytest.raises(ValueError, match=r"step 0 .*batch row 0\b"):
        lm.generate(prompt, max_new_tokens=3, end_token_id=None)
