"""A BERT classifier fine-tuned on Keras 3 loads on Keras 2 (tf.keras) and one
fine-tuned on Keras 2 loads on Keras 3, and each predicts what it predicted
where it was saved (within `CROSS_LANE_ATOL`). Their backbones load on every
lane, Keras 2.3 on Theano included.

The fixtures in tests/bert/fixtures/ are written by
`python -m tests.bert.make_bert_weights_fixture`, run on each lane.
"""

import os

import numpy as np
import pytest

from kerastack.core import keras_version
from tests.bert.make_bert_weights_fixture import (
    LANES,
    build_backbone,
    build_classifier,
    fixture_paths,
    initialize,
    make_data,
    predict,
)
from tests.portable.make_weights_fixture import lane, save_weights
from tests.tolerances import CROSS_LANE_ATOL, SAVE_ATOL

KERAS_2_3 = keras_version()[:2] == (2, 3)


def _load_fixture(writer, part):
    h5_path, npz_path = fixture_paths(writer, part)
    for path in (h5_path, npz_path):
        # Every lane's fixture is committed: a missing one is a failure, not a skip.
        assert os.path.exists(path), (
            f"missing fixture {os.path.relpath(path)}: write it on the {writer} lane with "
            "`python -m tests.bert.make_bert_weights_fixture`"
        )
    stored = dict(np.load(npz_path))
    inputs = {name: stored.pop(name) for name in ("token_ids", "segment_ids", "padding_mask")}
    return h5_path, inputs, stored


@pytest.mark.skipif(
    KERAS_2_3,
    reason="Keras 2.3 serves the functional backbone, not the task models built on it "
    "(they call it on a dict): the backbone's test runs here",
)
@pytest.mark.parametrize("writer", LANES)
def test_classifier_of_each_lane_loads(writer):
    h5_path, inputs, stored = _load_fixture(writer, "weights")
    model = build_classifier()
    fresh = predict(model, inputs)
    model.load_weights(h5_path)
    np.testing.assert_allclose(predict(model, inputs), stored["logits"], atol=CROSS_LANE_ATOL)
    assert not np.allclose(fresh, stored["logits"], atol=1e-2)  # the file's weights matter


@pytest.mark.parametrize("writer", LANES)
def test_backbone_of_each_lane_loads(writer):
    h5_path, inputs, stored = _load_fixture(writer, "backbone")
    model = build_backbone()
    model.load_weights(h5_path)
    outputs = predict(model, inputs)
    assert sorted(outputs) == sorted(stored) == ["pooled_output", "sequence_output"]
    for name, expected in stored.items():
        np.testing.assert_allclose(outputs[name], expected, atol=CROSS_LANE_ATOL, err_msg=name)


def test_same_lane_round_trip(tmp_path):
    model = build_backbone()
    initialize(model, seed=2)
    inputs, _ = make_data(seed=3, batch=4)
    expected = predict(model, inputs)
    path = str(tmp_path / f"bert-backbone-{lane()}.h5")
    save_weights(model, path)
    fresh = build_backbone()
    fresh.load_weights(path)
    outputs = predict(fresh, inputs)
    for name, value in expected.items():
        np.testing.assert_allclose(outputs[name], value, atol=SAVE_ATOL, err_msg=name)
