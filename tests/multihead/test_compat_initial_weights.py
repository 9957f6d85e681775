"""keras-multi-head's layers in `kerastack.multihead.compat` take Keras 2's
`weights=[...]` (kerastack.core.InitialWeightsMixin), in the old 2-D form."""

import keras
import numpy as np
import pytest

from kerastack.multihead import compat
from tests.core.initial_weights import check_initial_weights

X = np.random.default_rng(7).normal(size=(2, 5, 8)).astype("float32")
Q = np.random.default_rng(8).normal(size=(2, 3, 6)).astype("float32")

CASES = {
    "self_attention": (lambda **k: compat.MultiHeadAttention(head_num=2, **k), [X]),
    "qkv_no_activation": (
        lambda **k: compat.MultiHeadAttention(head_num=4, activation=None, **k),
        [[Q, X, X]],
    ),
    "no_bias": (lambda **k: compat.MultiHeadAttention(head_num=2, use_bias=False, **k), [X]),
    "multi_head_dense": (
        lambda **k: compat.MultiHead(keras.layers.Dense(3), layer_num=2, **k),
        [X],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_weights_argument(case, monkeypatch):
    make_layer, inputs = CASES[case]
    check_initial_weights(make_layer, inputs, monkeypatch)


def test_attention_takes_the_old_2d_kernels():
    rng = np.random.default_rng(9)
    shapes = [(6, 8), (8,), (8, 8), (8,), (8, 8), (8,), (8, 8), (8,)]  # Wq bq Wk bk Wv bv Wo bo
    weights = [rng.normal(size=shape).astype("float32") for shape in shapes]
    layer = compat.MultiHeadAttention(head_num=4, weights=weights)
    layer([Q, X, X])
    for got, want in zip(layer.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match=r"weight 0: \(8, 8\) given, \(6, 8\) expected"):
        compat.MultiHeadAttention(head_num=4, weights=[weights[2]] + weights[1:])([Q, X, X])
