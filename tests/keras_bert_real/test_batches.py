"""The real keras-bert 0.89 (on tf-keras, the tfkeras lane) still gives the
batches tests/conformance/fixtures/keras_bert/batches.npz records."""

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

from tests.conformance import make_keras_bert_batches as references  # noqa: E402


def test_the_recorded_batches_are_keras_berts():
    recorded = references.load()
    again = references.record(keras_bert.gen_batch_inputs, keras_bert.get_base_dict)
    assert sorted(again) == sorted(recorded)
    for key, value in recorded.items():
        np.testing.assert_array_equal(again[key], value, err_msg=key)
