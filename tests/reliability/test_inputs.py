"""Model inputs (issue 17, sections 5 and 6): token, segment and position
ids, masks, shapes and keys given to the backbones and task models, in eager
calls and in `predict`, and `predict` from several threads (every Keras 3
lane).

Every outcome is either the correct result (the model's output on the same
ids as int32, or a NumPy lookup in the embedding table) or a ValueError whose
message names the input (and the offending id, where it is, and the table
size); after a refused `predict` the model still predicts correctly.
"""

import json
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kerastack.bert import (
    AlbertBackbone,
    BertBackbone,
    BertClassifier,
    BertMultiTask,
    BertPretrainer,
    RobertaBackbone,
    Task,
)
from kerastack.core import keras, ops
from kerastack.gpt import GPT2Backbone, GPT2CausalLM
from kerastack.models import Embedding

TINY = {
    "vocabulary_size": 20,
    "num_layers": 1,
    "num_heads": 2,
    "hidden_dim": 8,
    "intermediate_dim": 16,
    "max_sequence_length": 8,
    "dropout": 0.0,
}
FAMILIES = ("bert_packed", "roberta", "gpt2")


def _make(family):
    keras.utils.set_random_seed(0)
    if family == "bert":
        return BertBackbone(**TINY)
    if family == "bert_packed":
        return BertBackbone(**TINY, attention_mask_input=True, position_ids_input=True)
    if family == "roberta":
        return RobertaBackbone(**dict(TINY, max_sequence_length=10))  # 8 real tokens
    return GPT2Backbone(**TINY)


@pytest.fixture(scope="module")
def models():
    return {family: _make(family) for family in ("bert",) + FAMILIES}


def _numpy(outputs):
    if isinstance(outputs, dict):
        return {key: _numpy(value) for key, value in outputs.items()}
    return np.asarray(ops.convert_to_numpy(outputs))


def _assert_same(actual, expected):
    actual, expected = _numpy(actual), _numpy(expected)
    if isinstance(expected, dict):
        assert sorted(actual) == sorted(expected)
        for key in expected:
            np.testing.assert_allclose(actual[key], expected[key], atol=1e-5, err_msg=key)
    else:
        np.testing.assert_allclose(actual, expected, atol=1e-5)


def _rules(model):
    return model.input_rules()


def _valid(model, rng, batch=2, length=5):
    """A valid input dict (int32) for `model`."""
    inputs = {}
    for key, rule in _rules(model).items():
        if rule.kind == "ids":
            inputs[key] = rng.integers(0, rule.size, (batch, length)).astype("int32")
        elif rule.kind == "mask":
            mask = (rng.random((batch, length)) < 0.8).astype("int32")
            mask[:, 0] = 1
            inputs[key] = mask
        elif rule.kind == "pair_mask":
            inputs[key] = np.tril(np.ones((batch, length, length), "int32"))
    return inputs


# -- the embedding layer alone: a NumPy lookup, or a ValueError ---------------------

ID_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint32", "float32", "float64", "bool")


@given(
    dtype=st.sampled_from(ID_DTYPES),
    shape=st.lists(st.integers(0, 3), min_size=1, max_size=3).map(tuple),
    values=st.lists(st.integers(-12, 14), min_size=27, max_size=27),
)
def test_embedding_is_a_numpy_lookup_or_names_the_bad_id(dtype, shape, values):
    embedding = Embedding(10, 3, name="token_embedding")
    embedding.build((None, None))
    table = np.asarray(ops.convert_to_numpy(embedding.embeddings))
    ids = np.asarray(values[: int(np.prod(shape))]).reshape(shape).astype(dtype)
    if dtype[0] not in "iu":
        with pytest.raises(ValueError, match=r"`token_embedding` must hold integer ids"):
            embedding(ids)
        return
    wide = ids.astype("int64")
    if ((wide < 0) | (wide >= 10)).any():
        first = tuple(np.argwhere((wide < 0) | (wide >= 10))[0])
        with pytest.raises(ValueError) as error:
            embedding(ids)
        message = str(error.value)
        assert f"`token_embedding` holds the id {wide[first]} " in message
        assert "outside [0, 10) (the table has 10 rows)" in message
        return
    np.testing.assert_array_equal(_numpy(embedding(ids)), table[wide])


# -- backbones: every kind of bad input, in eager calls and predict ------------------

VALID = ("valid", "other_int_dtype", "list_values")
MUTATIONS = VALID + (
    "id_out_of_range",
    "float_ids",
    "bool_ids",
    "str_ids",
    "mask_value",
    "missing_key",
    "unknown_key",
    "not_a_dict",
    "shape_mismatch",
    "rank",
    "empty_sequence",
    "empty_batch",
    "too_long",
)


def _mutate(model, family, mutation, draw, rng):
    """`(inputs, expected)`: expected is None for a valid input (compare with
    the int32 input) or the texts the ValueError's message must contain."""
    rules = _rules(model)
    if mutation in VALID:  # one shape: JAX compiles each new one, op by op
        batch, length = 2, 5
    else:
        batch, length = draw(st.integers(1, 3)), draw(st.sampled_from([1, 3, 8]))
    inputs = _valid(model, rng, batch, length)
    id_keys = [key for key, rule in rules.items() if rule.kind == "ids"]
    key = draw(st.sampled_from(id_keys))
    if mutation == "valid":
        return inputs, None
    if mutation == "other_int_dtype":
        dtype = draw(st.sampled_from(["int8", "int16", "int64", "uint8", "uint16", "uint64"]))
        return {k: v.astype(dtype) for k, v in inputs.items()}, None
    if mutation == "list_values":
        return {k: v.tolist() for k, v in inputs.items()}, None
    if mutation == "id_out_of_range":
        size = rules[key].size
        bad = draw(st.sampled_from([-1, -7, size, size + 5, 2**31 - 1, 2**40]))
        row, position = draw(st.integers(0, batch - 1)), draw(st.integers(0, length - 1))
        inputs[key] = inputs[key].astype("int64")
        inputs[key][row, position] = bad
        where = f"at batch row {row}, position {position}"
        return inputs, [f"`{key}` holds the id {bad} {where}", f"outside [0, {size})"]
    if mutation in ("float_ids", "bool_ids", "str_ids"):
        dtype = {"float_ids": "float32", "bool_ids": "bool", "str_ids": "str"}[mutation]
        inputs[key] = inputs[key].astype(dtype)
        return inputs, [f"`{key}` must hold integer ids"]
    if mutation == "mask_value":
        bad = draw(st.sampled_from([2, -1, 0.5]))
        mask = inputs["padding_mask"].astype("float32")
        mask[0, length - 1] = bad
        return {**inputs, "padding_mask": mask}, ["`padding_mask` must hold only 0", f"{bad}"]
    if mutation == "missing_key":
        missing = draw(st.sampled_from(sorted(rules)))
        del inputs[missing]
        return inputs, [f"missing ['{missing}']"]
    if mutation == "unknown_key":
        return {**inputs, "token_id": inputs["token_ids"]}, ["unknown ['token_id']"]
    if mutation == "not_a_dict":
        return list(inputs.values()), ["takes a dict of arrays with the keys"]
    if mutation == "shape_mismatch":
        other = draw(st.sampled_from([k for k in rules if k != "token_ids"]))
        grown = np.concatenate([inputs[other], inputs[other][:, :1]], axis=1)
        return {**inputs, other: grown}, [f"Input `{other}` has shape {grown.shape}"]
    if mutation == "rank":
        inputs[key] = inputs[key][0] if draw(st.booleans()) else inputs[key][None]
        return inputs, [f"Input `{key}` must have rank 2"]
    if mutation == "empty_sequence":
        return {k: v[:, :0] if v.ndim == 2 else v[:, :0, :0] for k, v in inputs.items()}, [
            "sequences of length 0"
        ]
    if mutation == "empty_batch":
        return {k: v[:0] for k, v in inputs.items()}, ["0 rows", "an empty batch"]
    # too_long: one token more than the model's positions
    longer = _valid(model, rng, batch, 9)
    if family == "bert_packed":  # positions given: the ids say where the table ends
        longer["position_ids"][0, 0] = 8
        return longer, ["`position_ids` holds the id 8", "(max_sequence_length=8)"]
    if family == "roberta":
        longer["padding_mask"][:] = 1
        return longer, ["`padding_mask` marks 9 real tokens in batch row 0", "8 positions"]
    return longer, ["sequences of 9 tokens", "max_sequence_length=8"]


@pytest.mark.parametrize("mutation", MUTATIONS)
@settings(max_examples=max(1, settings.default.max_examples // 4))  # per mutation
@given(family=st.sampled_from(FAMILIES), data=st.data())
def test_bad_inputs_are_named_and_good_ones_give_the_int32_result(models, mutation, family, data):
    model = models[family]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    inputs, expected = _mutate(model, family, mutation, data.draw, rng)
    if expected is None:
        reference = {k: np.asarray(v).astype("int32") for k, v in inputs.items()}
        _assert_same(model(inputs), model(reference))
        return
    for run in (model, lambda x: model.predict(x, verbose=0)):
        with pytest.raises(ValueError) as error:
            run(inputs)
        for text in expected:
            assert text in str(error.value), (text, str(error.value))


def test_valid_dtypes_give_the_numpy_embedding_sum(models):
    """The embeddings of int8 / uint8 / int64 ids are a NumPy lookup."""
    model = models["bert"]
    inner = keras.Model(model.input, model.get_layer("embeddings_add").output)
    tables = {
        name: _numpy(model.get_layer(name).embeddings)
        for name in ("token_embedding", "segment_embedding", "position_embedding")
    }
    rng = np.random.default_rng(3)
    inputs = _valid(model, rng, 2, 6)
    expected = (
        tables["token_embedding"][inputs["token_ids"]]
        + tables["position_embedding"][:6]
        + tables["segment_embedding"][inputs["segment_ids"]]
    )
    for dtype in ("int8", "uint8", "int64"):
        cast = {k: v.astype(dtype) for k, v in inputs.items()}
        np.testing.assert_allclose(_numpy(inner(cast)), expected, atol=1e-6)


# -- a refused predict leaves the model usable (JAX's trainer used to break) ---------


class _FailingCallback(keras.callbacks.Callback):
    def on_predict_batch_end(self, batch, logs=None):
        raise RuntimeError("a callback failed")


@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_a_bad_predict_then_a_good_one(models, family):
    model = models[family]
    good = _valid(model, np.random.default_rng(4), 2, 5)
    before = model.predict(good, verbose=0)
    too_long = _valid(model, np.random.default_rng(5), 1, 12)
    too_long["padding_mask"][:] = 1  # RoBERTa: 12 real tokens
    out_of_range = {**good, "token_ids": good["token_ids"] + 20}
    for bad in (too_long, out_of_range, {**good, "token_ids": good["token_ids"] * 1.0}):
        with pytest.raises(ValueError):
            model.predict(bad, verbose=0)
        _assert_same(model.predict(good, verbose=0), before)
        _assert_same(model.predict_on_batch(good), before)
        with pytest.raises(ValueError):
            model.predict_on_batch(bad)
        _assert_same(model(good), before)
    # An error Keras raises inside predict (here a callback's) on any backend
    # leaves the weights where they were.
    with pytest.raises(RuntimeError, match="a callback failed"):
        model.predict(good, verbose=0, callbacks=[_FailingCallback()])
    _assert_same(model.predict(good, verbose=0), before)


def test_task_models_check_their_inputs(models):
    backbone = models["bert"]
    good = _valid(backbone, np.random.default_rng(6), 2, 5)
    classifier = BertClassifier(backbone, num_classes=3)
    logits = classifier.predict(good, verbose=0)
    with pytest.raises(ValueError, match=r"`segment_ids` holds the id 2 at batch row 1"):
        bad = good["segment_ids"].copy()
        bad[1, 2] = 2
        classifier.predict({**good, "segment_ids": bad}, verbose=0)
    _assert_same(classifier.predict(good, verbose=0), logits)
    # fit and evaluate check arrays before Keras's compiled step.
    classifier.compile(loss="sparse_categorical_crossentropy")
    too_long = _valid(backbone, np.random.default_rng(6), 2, 9)
    with pytest.raises(ValueError, match=r"sequences of 9 tokens.*max_sequence_length=8"):
        classifier.fit(too_long, np.zeros((2,), "int32"), verbose=0)
    with pytest.raises(ValueError, match=r"missing \['padding_mask'\]"):
        unmasked = {key: value for key, value in good.items() if key != "padding_mask"}
        classifier.evaluate(unmasked, np.zeros((2,)), verbose=0)
    _assert_same(classifier.predict(good, verbose=0), logits)
    pretrainer = BertPretrainer(backbone)
    positions = np.array([[1, 4], [0, 2]], "int32")
    with pytest.raises(ValueError, match=r"`mask_positions` holds the id 5 at batch row 0"):
        pretrainer({**good, "mask_positions": positions + np.array([[0, 1], [0, 0]])})
    with pytest.raises(ValueError, match=r"missing \['mask_positions'\]"):
        pretrainer.predict(good, verbose=0)
    multitask = BertMultiTask(backbone, [Task("tags", "tagging", num_classes=2)])
    with pytest.raises(ValueError, match=r"`token_ids` holds the id -1"):
        multitask({**good, "token_ids": np.full_like(good["token_ids"], -1)})
    causal = GPT2CausalLM(models["gpt2"])
    gpt_good = _valid(causal.backbone, np.random.default_rng(7), 1, 4)
    before = causal.predict(gpt_good, verbose=0)
    with pytest.raises(ValueError, match=r"sequences of 9 tokens.*max_sequence_length=8"):
        causal.predict(_valid(causal.backbone, np.random.default_rng(7), 1, 9), verbose=0)
    _assert_same(causal.predict(gpt_good, verbose=0), before)


# -- threads ------------------------------------------------------------------------


def test_predict_from_four_threads_equals_the_serial_result(models):
    model = models["bert"]
    batches = [_valid(model, np.random.default_rng(10 + i), 2, 5) for i in range(4)]
    serial = [model.predict(batch, verbose=0) for batch in batches]
    results, errors = [None] * 4, []

    def work(index):
        try:
            for _ in range(2):
                results[index] = model.predict(batches[index], verbose=0)
                model(batches[index])  # an eager call between predicts
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(repr(error))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for result, expected in zip(results, serial, strict=True):
        _assert_same(result, expected)


def test_generate_and_predict_from_four_threads_equal_the_serial_results(models):
    from kerastack.gpt import GPT2CausalLM

    lm = GPT2CausalLM(models["gpt2"])
    prompts = [np.random.default_rng(20 + i).integers(1, 20, (2, 3)) for i in range(4)]
    serial = [lm.generate(prompt, max_new_tokens=3) for prompt in prompts]
    inputs = {"token_ids": prompts[0], "padding_mask": np.ones_like(prompts[0])}
    predicted = lm.predict(inputs, verbose=0)
    results, errors = [None] * 4, []

    def work(index):
        try:
            results[index] = lm.generate(prompts[index], max_new_tokens=3)
            _assert_same(lm.predict(inputs, verbose=0), predicted)
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(repr(error))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for result, expected in zip(results, serial, strict=True):
        np.testing.assert_array_equal(result, expected)


# -- constructor arguments: plain ints and floats, or a ValueError naming them -------

BACKBONES = {
    "bert": (BertBackbone, {}),
    "roberta": (RobertaBackbone, {"max_sequence_length": 10}),
    "albert": (AlbertBackbone, {"embedding_dim": 4}),
    "gpt2": (GPT2Backbone, {}),
}
SIZE_ARGUMENTS = ("vocabulary_size", "num_layers", "num_heads", "intermediate_dim")
BAD_SIZES = (0, -1, 2.0, 2.5, True, "2", None, [2], float("nan"))
BAD_FLOATS = {
    "dropout": (1.0, -0.1, float("nan"), "0.1", True),
    "layer_norm_epsilon": (0.0, -1e-5, float("inf"), None),
    "initializer_range": (0, float("inf"), float("nan"), "0.02"),
}


@given(family=st.sampled_from(sorted(BACKBONES)), data=st.data())
def test_constructor_arguments_are_plain_numbers_or_named_errors(family, data):
    cls, extra = BACKBONES[family]
    arguments = {**TINY, **extra}
    if data.draw(st.booleans(), label="float argument"):
        argument = data.draw(st.sampled_from(sorted(BAD_FLOATS)))
        value = data.draw(st.sampled_from(BAD_FLOATS[argument]))
    else:
        argument = data.draw(st.sampled_from(SIZE_ARGUMENTS))
        value = data.draw(st.sampled_from(BAD_SIZES))
    with pytest.raises(ValueError, match=f"`{argument}` must be"):
        cls(**{**arguments, argument: value})


@pytest.mark.parametrize("family", sorted(BACKBONES))
def test_numpy_ints_are_taken_as_ints(family):
    cls, extra = BACKBONES[family]
    arguments = {**TINY, **extra, "num_heads": np.int64(2), "num_layers": np.int32(1)}
    config = cls(**arguments).get_config()
    assert type(config["num_heads"]) is int and type(config["num_layers"]) is int
    json.dumps(config)  # saves as JSON
    with pytest.raises(ValueError, match="`hidden_dim`=8 is not divisible by `num_heads`=3"):
        cls(**{**arguments, "num_heads": 3})
