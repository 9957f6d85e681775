"""kerastack's compat builders against the real keras-transformer 0.40 and
keras-bert 0.89 (every Keras 3 lane): each case of
tests/conformance/make_keras_bert_models.py, built with
`kerastack.transformer.compat` and `kerastack.bert.compat` from the recorded
arguments, must

- hold the old model's layers: the same names, and the layers with weights
  in the same order with the same weight shapes (Keras loads an old `.h5`
  file by that order) and the same `trainable`;
- load the `.h5` weights the real package saved (`model.load_weights`) and
  then give its recorded outputs;
- be what `keras.models.load_model` makes of the real package's `.h5` model
  file (with the compat module's `get_custom_objects()`), with the recorded
  outputs;
- decode (keras-transformer's `decode`) the recorded tokens: greedy, and
  sampled after the same `np.random.seed`;
- with `load_trained_model_from_checkpoint` on the tiny Google checkpoint,
  give keras-bert's recorded outputs.

Outputs are compared within `RECORDED_TINY_ATOL` (float32, recorded on
another machine and library); tokens and names exactly. The references are
recomputed from the real packages on the tfkeras lane
(tests/keras_bert_real/test_models.py)."""

import copy
import os

import numpy as np
import pytest

from kerastack.bert import compat as kb
from kerastack.core import keras
from kerastack.transformer import compat as kt
from tests.conformance import make_keras_bert_models as references
from tests.tolerances import RECORDED_TINY_ATOL

CASES, ARRAYS = references.load()
SAVED = [case for case, entry in CASES.items() if entry["saved"]]
CHECKPOINT_CASES = [
    case for case, entry in CASES.items() if entry["builder"].endswith("from_checkpoint")
]
DECODED = [case for case, entry in CASES.items() if entry["decode"]]


def build(case):
    """The case built with kerastack's compat modules, as the recorder built
    it with the real ones."""
    return references.build(case, kt, kb, keras)


def custom_objects(case):
    compat = kb if CASES[case]["builder"].startswith("bert.") else kt
    return compat.get_custom_objects()


def recorded_inputs(case):
    count = len(CASES[case]["inputs"])
    return [ARRAYS[f"{case}/input/{index}"] for index in range(count)]


def assert_recorded_outputs(case, model):
    outputs = references.predict(model, recorded_inputs(case))
    count = sum(name.startswith(f"{case}/output/") for name in ARRAYS)
    assert len(outputs) == count, f"{case}: {len(outputs)} outputs, recorded {count}"
    for index, output in enumerate(outputs):
        expected = ARRAYS[f"{case}/output/{index}"]
        assert output.shape == expected.shape, (case, index, output.shape, expected.shape)
        np.testing.assert_allclose(
            output, expected, rtol=0, atol=RECORDED_TINY_ATOL, err_msg=f"{case}/output/{index}"
        )


def weighted_layers(layers):
    """`[name, [weight shapes]]` of the layers holding weights, in order."""
    return [[name, shapes] for name, _, _, shapes in layers if shapes]


def test_the_reference_covers_the_cases():
    assert list(CASES) == list(references.CASES)
    assert len(SAVED) == 11 and len(CHECKPOINT_CASES) == 3 and len(DECODED) == 3
    for case in CASES:
        for index, array in enumerate(references.inputs(case)):
            np.testing.assert_array_equal(ARRAYS[f"{case}/input/{index}"], array)
    for case in SAVED:
        for suffix in (".h5", "_weights.h5"):
            path = os.path.join(references.MODELS, case + suffix)
            assert 0 < os.path.getsize(path) < 100_000, path


@pytest.mark.parametrize("case", list(CASES))
def test_layers_and_inputs_are_the_old_ones(case):
    model = build(case)
    ours, theirs = references.layers(model), CASES[case]["layers"]
    assert [tensor.name for tensor in model.inputs] == CASES[case]["inputs"]
    # What loading an old .h5 file pairs up, layer by layer.
    assert weighted_layers(ours) == weighted_layers(theirs)
    assert sorted(layer[0] for layer in ours) == sorted(layer[0] for layer in theirs)


@pytest.mark.parametrize("case", list(CASES))
def test_trainable_as_before(case):
    model = build(case)
    ours = {name: trainable for name, _, trainable, shapes in references.layers(model) if shapes}
    theirs = {name: trainable for name, _, trainable, shapes in CASES[case]["layers"] if shapes}
    assert ours == theirs


@pytest.mark.parametrize("case", SAVED)
def test_old_weight_files_load_and_give_the_old_outputs(case):
    model = build(case)
    model.load_weights(os.path.join(references.MODELS, f"{case}_weights.h5"))
    assert_recorded_outputs(case, model)


@pytest.mark.parametrize("case", SAVED)
def test_old_model_files_load_and_give_the_old_outputs(case):
    model = keras.models.load_model(
        os.path.join(references.MODELS, f"{case}.h5"), custom_objects=custom_objects(case)
    )
    assert sorted(layer.name for layer in model.layers) == sorted(
        layer[0] for layer in CASES[case]["layers"]
    )
    assert_recorded_outputs(case, model)


@pytest.mark.parametrize("case", CHECKPOINT_CASES)
def test_checkpoint_models_give_keras_berts_outputs(case):
    assert_recorded_outputs(case, build(case))


@pytest.mark.parametrize("case", DECODED)
def test_decode_gives_the_old_tokens(case):
    model = build(case)
    model.load_weights(os.path.join(references.MODELS, f"{case}_weights.h5"))
    for run in CASES[case]["decode"]:
        if run["seed"] is not None:
            np.random.seed(run["seed"])  # noqa: NPY002 (decode draws from the global generator)
        result = kt.decode(model, copy.deepcopy(run["tokens"]), **run["arguments"])
        assert result == run["result"], run
