"""keras-pos-embd's layers in `kerastack.position.compat` take Keras 2's
`weights=[...]` (kerastack.core.InitialWeightsMixin)."""

import numpy as np
import pytest

from kerastack.position import compat
from tests.core.initial_weights import check_initial_weights
from tests.testing import to_numpy

X = np.random.default_rng(10).normal(size=(2, 5, 8)).astype("float32")
POSITIONS = np.array([[0, 1, -2, 7, 3], [4, -4, 0, 0, 2]], "int32")

CASES = {
    "expand": (lambda **k: compat.PositionEmbedding(4, 6, **k), [POSITIONS]),
    "add": (lambda **k: compat.PositionEmbedding(7, 8, mode="add", **k), [X]),
    "concat": (lambda **k: compat.PositionEmbedding(7, 3, mode="concat", **k), [X]),
    "trig_add": (lambda **k: compat.TrigPosEmbedding(**k), [X]),
    "trig_expand": (
        lambda **k: compat.TrigPosEmbedding(mode="expand", output_dim=4, **k),
        [X[..., 0]],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_weights_argument(case, monkeypatch):
    make_layer, inputs = CASES[case]
    check_initial_weights(make_layer, inputs, monkeypatch)


def test_expand_table_rows_are_positions():
    table = np.arange(9 * 2, dtype="float32").reshape(9, 2)  # positions -4 .. 4
    outputs = to_numpy(compat.PositionEmbedding(4, 2, weights=[table])(POSITIONS))
    np.testing.assert_array_equal(outputs, table[np.clip(POSITIONS, -4, 4) + 4])
