"""keras-layer-normalization's `LayerNormalization` in
`kerastack.layernorm.compat` takes Keras 2's `weights=[gamma, beta]`
(kerastack.core.InitialWeightsMixin)."""

import numpy as np
import pytest

from kerastack.layernorm import compat
from tests.core.initial_weights import check_initial_weights
from tests.testing import to_numpy

X = np.random.default_rng(11).normal(size=(2, 5, 8)).astype("float32")

CASES = {
    "gamma_beta": (lambda **k: compat.LayerNormalization(**k), [X]),
    "gamma_only": (lambda **k: compat.LayerNormalization(center=False, **k), [X]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_weights_argument(case, monkeypatch):
    make_layer, inputs = CASES[case]
    check_initial_weights(make_layer, inputs, monkeypatch)


def test_gamma_then_beta():
    gamma = np.linspace(0.5, 2.0, 8).astype("float32")
    beta = np.linspace(-1.0, 1.0, 8).astype("float32")
    outputs = to_numpy(compat.LayerNormalization(weights=[gamma, beta])(X))
    x = X.astype("float64")
    normed = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-14)
    np.testing.assert_allclose(outputs, normed * gamma + beta, rtol=1e-5, atol=1e-5)
