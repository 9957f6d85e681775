"""`kerastack.core.InitialWeightsMixin`: Keras 2's `weights=[...]` constructor
argument on Keras 3 (the Keras 3 lanes; the tfkeras lane checks the Keras 2
side through tests/keras_bert_real/test_layers.py)."""

import os
import tempfile

import keras
import numpy as np
import pytest

from kerastack.core import InitialWeightsMixin
from tests.core.initial_weights import check_initial_weights
from tests.testing import to_numpy


class Affine(InitialWeightsMixin, keras.layers.Layer):
    """`x @ kernel + bias`; counts its calls."""

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.calls = 0

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.bias = self.add_weight(shape=(self.units,), name="bias", initializer="zeros")

    def call(self, x):
        self.calls += 1
        return keras.ops.matmul(x, self.kernel) + self.bias

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class Reversed(Affine):
    """Lists its weights in another order (`[bias, kernel]`), as old layers did."""

    def get_weights(self):
        return super().get_weights()[::-1]

    def set_weights(self, weights):
        super().set_weights(list(weights)[::-1])


class Plain(InitialWeightsMixin, keras.layers.Layer):
    """No build and no get_config of its own (Keras 3 writes its config)."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return self.factor * x


X = np.random.default_rng(3).normal(size=(2, 4)).astype("float32")
KERNEL = np.arange(12, dtype="float32").reshape(4, 3) / 10
BIAS = np.array([1.0, -1.0, 0.5], "float32")


def test_weights_are_set_before_the_first_call():
    layer = Affine(weights=[KERNEL, BIAS])
    assert not layer.built  # nothing happens before the layer is built
    outputs = to_numpy(layer(X))
    np.testing.assert_array_equal(layer.get_weights()[0], KERNEL)
    np.testing.assert_array_equal(layer.get_weights()[1], BIAS)
    np.testing.assert_allclose(outputs, X @ KERNEL + BIAS, rtol=1e-6, atol=1e-6)
    assert layer.calls == 1


def test_weights_given_as_lists_and_float64():
    layer = Affine(weights=[KERNEL.astype("float64").tolist(), BIAS.astype("float64")])
    np.testing.assert_allclose(to_numpy(layer(X)), X @ KERNEL + BIAS, rtol=1e-6, atol=1e-6)


def test_in_a_functional_model():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, Affine(weights=[KERNEL, BIAS])(inputs))
    np.testing.assert_allclose(model.predict(X, verbose=0), X @ KERNEL + BIAS, atol=1e-6)


def test_a_layer_built_before_its_first_call():
    layer = Affine(weights=[KERNEL, BIAS])
    layer.build((None, 4))  # as Keras 2: set at the first call, before it computes
    np.testing.assert_allclose(to_numpy(layer(X)), X @ KERNEL + BIAS, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(layer.get_weights()[0], KERNEL)


def test_the_layers_own_weight_order():
    layer = Reversed(weights=[BIAS, KERNEL])
    np.testing.assert_allclose(to_numpy(layer(X)), X @ KERNEL + BIAS, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match=r"weight 0: \(4, 3\) given, \(3,\) expected"):
        Reversed(weights=[KERNEL, BIAS])(X)


def test_wrong_count_is_an_error_before_the_call():
    layer = Affine(weights=[KERNEL], name="affine_probe")
    with pytest.raises(ValueError, match=r"'affine_probe' was given weights=\[...\] of 1 arrays"):
        layer(X)
    assert layer.calls == 0
    with pytest.raises(ValueError, match="1 arrays"):  # again: never a call with other weights
        layer(X)
    assert layer.calls == 0


def test_wrong_shape_is_an_error_before_the_call_and_sets_nothing():
    layer = Affine(weights=[KERNEL, np.zeros(4, "float32")], name="affine_probe")
    with pytest.raises(
        ValueError, match=r"'affine_probe'.*weight 1: \(4,\) given, \(3,\) expected"
    ):
        layer(X)
    assert layer.calls == 0
    assert not np.array_equal(layer.get_weights()[0], KERNEL)  # the kernel was not set either


def test_config_has_no_weights_and_round_trips():
    layer = Affine(units=3, weights=[KERNEL, BIAS], name="affine_probe")
    config = layer.get_config()
    assert "weights" not in config
    again = Affine.from_config(config)
    assert again.get_config() == config
    assert tuple(again(X).shape) == (2, 3)


def test_a_layer_without_get_config_or_build():
    layer = Plain(factor=3.0, weights=[])
    config = layer.get_config()
    assert config["factor"] == 3.0 and "weights" not in config
    np.testing.assert_allclose(to_numpy(layer(X)), 3 * X)
    with pytest.raises(ValueError, match=r"weights=\[...\] of 1 arrays, but it has 0 weights"):
        Plain(weights=[KERNEL])(X)


def test_no_weights_costs_nothing():
    layer = Affine()
    layer(X)
    assert layer._kerastack_initial_weights is None


def test_a_saved_model_reloads_without_weights_in_its_config():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, Affine(weights=[KERNEL, BIAS], name="affine_probe")(inputs))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, custom_objects={"Affine": Affine})
    np.testing.assert_allclose(loaded.predict(X, verbose=0), X @ KERNEL + BIAS, atol=1e-6)


def test_check_initial_weights_helper(monkeypatch):
    check_initial_weights(lambda **kwargs: Affine(**kwargs), [X], monkeypatch)
