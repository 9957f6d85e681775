"""keras-self-attention's layers in `kerastack.attention.compat` take Keras 2's
`weights=[...]` (kerastack.core.InitialWeightsMixin), in the old order."""

import numpy as np
import pytest

from kerastack.attention import compat
from tests.core.initial_weights import check_initial_weights
from tests.testing import to_numpy

X = np.random.default_rng(5).normal(size=(2, 5, 8)).astype("float32")
PREVIOUS = np.random.default_rng(6).normal(size=(2, 5, 5)).astype("float32")

CASES = {
    "additive": (lambda **k: compat.SeqSelfAttention(units=4, **k), [X]),
    "additive_no_biases": (
        lambda **k: compat.SeqSelfAttention(
            units=4, use_additive_bias=False, use_attention_bias=False, **k
        ),
        [X],
    ),
    # [Wa, ba]: Keras lists them the other way round; weights= takes the old order.
    "multiplicative": (
        lambda **k: compat.SeqSelfAttention(attention_type="multiplicative", **k),
        [X],
    ),
    "weighted": (lambda **k: compat.SeqWeightedAttention(return_attention=True, **k), [X]),
    "scaled_dot_product": (lambda **k: compat.ScaledDotProductAttention(**k), [[X, X, X]]),
    "residual": (lambda **k: compat.ResidualScaledDotProductAttention(**k), [[X, PREVIOUS]]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_weights_argument(case, monkeypatch):
    make_layer, inputs = CASES[case]
    check_initial_weights(make_layer, inputs, monkeypatch)


def test_multiplicative_weights_are_read_in_the_old_order():
    wa = np.eye(8, dtype="float32")
    ba = np.array([0.25], "float32")
    layer = compat.SeqSelfAttention(attention_type="multiplicative", weights=[wa, ba])
    layer(X)
    by_shape = {tuple(v.shape): to_numpy(v) for v in layer.weights}
    np.testing.assert_array_equal(by_shape[(8, 8)], wa)
    np.testing.assert_array_equal(by_shape[(1,)], ba)
