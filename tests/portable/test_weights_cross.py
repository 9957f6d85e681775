"""Weights cross between lanes: a model trained and saved on one lane (Keras 3
on any backend, tf.keras 2, Keras 2 on Theano) loads on every other and
predicts what it predicted where it was saved.

The fixtures in tests/portable/fixtures/ are written by
`python -m tests.portable.make_weights_fixture`, run on each lane.
"""

import os

import numpy as np
import pytest

from tests.portable.helpers import KERAS_ARRAY_WARNING
from tests.portable.make_weights_fixture import (
    LANES,
    build_model,
    fixture_paths,
    initialize,
    lane,
    make_data,
    predict,
    save_weights,
)
from tests.tolerances import CROSS_LANE_ATOL, SAVE_ATOL

pytestmark = KERAS_ARRAY_WARNING


@pytest.mark.parametrize("writer", LANES)
def test_fixture_of_each_lane_loads(writer):
    # The running lane's own fixture too: on Keras 3 it was written by one
    # backend and is read here by each.
    h5_path, npz_path = fixture_paths(writer)
    for path in (h5_path, npz_path):
        # Every lane's fixture is committed: a missing one is a failure, not a skip.
        assert os.path.exists(path), (
            f"missing fixture {os.path.relpath(path)}: write it on the {writer} lane with "
            "`python -m tests.portable.make_weights_fixture`"
        )
    stored = np.load(npz_path)
    model = build_model()
    model.load_weights(h5_path)
    outputs = predict(model, stored["token_ids"], stored["padding_mask"])
    np.testing.assert_allclose(outputs, stored["outputs"], atol=CROSS_LANE_ATOL, rtol=0)


def test_same_lane_round_trip(tmp_path):
    # Saved as the fixture script saves, loaded into a fresh model.
    model = build_model()
    initialize(model, seed=2)
    ids, mask, _ = make_data(seed=3, batch=4)
    expected = predict(model, ids, mask)
    path = str(tmp_path / f"weights-{lane()}.h5")
    save_weights(model, path)
    fresh = build_model()
    fresh.load_weights(path)
    np.testing.assert_allclose(predict(fresh, ids, mask), expected, atol=SAVE_ATOL, rtol=0)
    initialize(fresh, seed=4)
    assert not np.allclose(predict(fresh, ids, mask), expected)  # the weights matter
