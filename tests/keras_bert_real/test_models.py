"""The real keras-transformer 0.40 and keras-bert 0.89 (on tf-keras, the
tfkeras lane) still build and compute what tests/conformance/fixtures/
keras_bert/models.npz records (the recorder runs again here), and the `.h5`
files they saved (fixtures/keras_bert/models/) load back in them with the
recorded outputs.

Outputs are compared within `RECORDED_TINY_ATOL` (recorded on another
machine: float32 kernels may differ); layers, inputs and decoded tokens
(greedy and sampled after `np.random.seed`) must be identical."""

import os

import numpy as np
import pytest

if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    pytest.skip(
        reason="the real keras-bert runs on tf-keras: the tfkeras lane", allow_module_level=True
    )

keras_bert = pytest.importorskip(
    "keras_bert", reason="the real keras-bert runs on tf-keras: the tfkeras lane"
)
keras_transformer = pytest.importorskip(
    "keras_transformer", reason="the real keras-transformer runs on tf-keras: the tfkeras lane"
)

from tensorflow import keras  # noqa: E402

from tests.conformance import make_keras_bert_models as references  # noqa: E402
from tests.tolerances import RECORDED_TINY_ATOL  # noqa: E402

RECORDED_CASES, RECORDED_ARRAYS = references.load()
SAVED = [case for case, entry in RECORDED_CASES.items() if entry["saved"]]


@pytest.fixture(scope="module")
def computed():
    return references.record(keras_transformer, keras_bert, keras)


def recorded_inputs(case):
    count = len(RECORDED_CASES[case]["inputs"])
    return [RECORDED_ARRAYS[f"{case}/input/{index}"] for index in range(count)]


def assert_recorded_outputs(case, outputs):
    count = sum(name.startswith(f"{case}/output/") for name in RECORDED_ARRAYS)
    assert len(outputs) == count, case
    for index, output in enumerate(outputs):
        expected = RECORDED_ARRAYS[f"{case}/output/{index}"]
        assert output.shape == expected.shape, (case, index)
        np.testing.assert_allclose(
            output, expected, rtol=0, atol=RECORDED_TINY_ATOL, err_msg=f"{case}/output/{index}"
        )


def test_every_case_is_recorded():
    assert list(RECORDED_CASES) == list(references.CASES)
    assert SAVED and all(
        not RECORDED_CASES[case]["builder"].endswith("from_checkpoint") for case in SAVED
    )


@pytest.mark.parametrize("case", list(references.CASES))
def test_builds_and_decodes_are_as_recorded(case, computed):
    cases, _ = computed
    assert cases[case] == RECORDED_CASES[case]


@pytest.mark.parametrize("case", list(references.CASES))
def test_inputs_are_identical_and_outputs_as_recorded(case, computed):
    _, arrays = computed
    assert sorted(name for name in arrays if name.startswith(f"{case}/")) == sorted(
        name for name in RECORDED_ARRAYS if name.startswith(f"{case}/")
    )
    for index, array in enumerate(recorded_inputs(case)):
        np.testing.assert_array_equal(arrays[f"{case}/input/{index}"], array)
    count = sum(name.startswith(f"{case}/output/") for name in arrays)
    assert_recorded_outputs(case, [arrays[f"{case}/output/{index}"] for index in range(count)])


def test_decodes_are_not_trivial():
    """The greedy runs stop at the end token in some rows and not in others,
    and the sampled ones differ from the greedy ones."""
    runs = RECORDED_CASES["transformer"]["decode"]
    greedy = runs[0]["result"]
    end = references.END_TOKENS["transformer"]
    assert any(row[-1] == end for row in greedy) and any(row[-1] != end for row in greedy)
    assert len({tuple(row) for row in greedy}) > 1
    sampled = [run["result"] for run in runs if run["seed"] is not None]
    assert sampled and all(result != greedy for result in sampled[::2])


@pytest.mark.parametrize("case", SAVED)
def test_saved_weights_load_back_in_the_real_packages(case):
    keras.backend.clear_session()
    model = references.build(case, keras_transformer, keras_bert, keras)
    model.load_weights(os.path.join(references.MODELS, f"{case}_weights.h5"))
    assert_recorded_outputs(case, references.predict(model, recorded_inputs(case)))


@pytest.mark.parametrize("case", SAVED)
def test_saved_models_load_back_in_the_real_packages(case):
    keras.backend.clear_session()
    # tf-keras looks in its global registry before load_model's custom_objects,
    # and bert4keras (tested in this lane too) puts its own MultiHeadAttention
    # and PositionEmbedding there when imported: they step aside meanwhile.
    custom_objects = keras_bert.get_custom_objects()
    registry = keras.utils.get_custom_objects()
    shadowing = {name: registry.pop(name) for name in custom_objects if name in registry}
    try:
        model = keras.models.load_model(
            os.path.join(references.MODELS, f"{case}.h5"), custom_objects=custom_objects
        )
    finally:
        registry.update(shadowing)
    assert [layer[0] for layer in references.layers(model)] == [
        layer[0] for layer in RECORDED_CASES[case]["layers"]
    ]
    assert_recorded_outputs(case, references.predict(model, recorded_inputs(case)))
