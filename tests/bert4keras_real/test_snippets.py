"""The real bert4keras (on tf-keras, the tfkeras lane) still gives the
outputs recorded in tests/conformance/fixtures/bert4keras/snippets.json, which
kerastack-bert4keras's `snippets` is checked against on the Keras 3 lanes."""

import os

import pytest

if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    pytest.skip(
        reason="the real bert4keras runs on tf-keras: the tfkeras lane", allow_module_level=True
    )

bert4keras = pytest.importorskip(
    "bert4keras", reason="the real bert4keras runs on tf-keras: the tfkeras lane"
)

from tests.conformance import make_bert4keras_snippets as references  # noqa: E402

# Everything is NumPy in float64 but the tiny Keras model's float32 outputs
# (keras/probas), recomputed here by the same tf-keras that recorded them.
ATOL = 1e-6


def test_recorded_outputs_are_bert4keras_outputs():
    references.assert_matches(references.compute(), references.load(), ATOL)
