"""The real bert4keras (on tf-keras, the tfkeras lane) still gives the
outputs recorded in tests/conformance/fixtures/bert4keras/models.npz (the
tiny BERT's and the tiny ALBERT's), which kerastack-bert4keras is checked
against on the Keras 3 lanes."""

import os

import numpy as np
import pytest

if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    pytest.skip(
        reason="the real bert4keras runs on tf-keras: the tfkeras lane", allow_module_level=True
    )

from tests.conformance import make_bert4keras_models as references  # noqa: E402
from tests.tolerances import RECORDED_TINY_ATOL  # noqa: E402


def test_recorded_outputs_are_bert4keras_outputs():
    recorded = np.load(references.OUTPUT)
    computed = references.compute()
    assert sorted(computed) == sorted(recorded.files)
    assert {f"{case}/0" for case in references.ALBERT_CASES} <= set(computed)
    for key, value in computed.items():
        np.testing.assert_allclose(
            value, recorded[key], rtol=0, atol=RECORDED_TINY_ATOL, err_msg=key
        )
