"""The recorded references of kerastack.bert4keras's backend and layers
(tests/conformance/fixtures/bert4keras/layers.npz) are still what the real
bert4keras 0.11.5 computes: the recorder runs again here and must give them.

Inputs must be identical (they are made by the same seeded code); outputs are
compared within 1e-6: the same program on the same library, so only the
float32 kernels TensorFlow picks for this CPU may differ. `-inf` entries
(masked steps and spans) must be `-inf` in the same places.
"""

import os

import numpy as np
import pytest

if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    pytest.skip(
        reason="the real bert4keras runs on tf-keras: the tfkeras lane", allow_module_level=True
    )
bert4keras = pytest.importorskip(
    "bert4keras", reason="the real bert4keras runs on tf-keras: the tfkeras lane"
)

from tests.conformance import make_bert4keras_layers  # noqa: E402

ATOL = 1e-6


@pytest.fixture(scope="module")
def recorded():
    with np.load(make_bert4keras_layers.FIXTURE) as data:
        return {name: data[name] for name in data.files}


@pytest.fixture(scope="module")
def computed():
    return make_bert4keras_layers.compute()


def test_same_names(recorded, computed):
    assert sorted(recorded) == sorted(computed)


def test_inputs_are_identical(recorded):
    for name, value in make_bert4keras_layers.inputs().items():
        np.testing.assert_array_equal(recorded[name], value, err_msg=name)


def test_outputs_match_the_real_bert4keras(recorded, computed):
    for name, expected in recorded.items():
        got = computed[name]
        assert got.shape == expected.shape and got.dtype == expected.dtype, name
        if expected.dtype.kind != "f":
            np.testing.assert_array_equal(got, expected, err_msg=name)
            continue
        np.testing.assert_array_equal(np.isinf(got), np.isinf(expected), err_msg=name)
        np.testing.assert_array_equal(got[np.isinf(got)], expected[np.isinf(expected)])
        finite = ~np.isinf(expected)
        np.testing.assert_allclose(got[finite], expected[finite], rtol=0, atol=ATOL, err_msg=name)
