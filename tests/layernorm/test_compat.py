"""`kerastack.layernorm.compat.LayerNormalization` (keras-layer-normalization's
layer): old arguments and defaults, old math, old weights (HDF5 files written
by Keras 2's `save_weights`), saving, masking and precision."""

import os
import tempfile

import h5py
import keras
import numpy as np
import pytest
from absl.testing import parameterized

from kerastack.layernorm import compat
from kerastack.layernorm import layer_normalization as modern
from tests import goldens
from tests.layernorm import reference
from tests.testing import FLOAT32_ATOL, FLOAT32_RTOL, TestCase, to_numpy

OLD_CONFIG_KEYS = {
    "center",
    "scale",
    "epsilon",
    "gamma_initializer",
    "beta_initializer",
    "gamma_regularizer",
    "beta_regularizer",
    "gamma_constraint",
    "beta_constraint",
}


class LegacyLayerNormalizationTest(TestCase):
    @parameterized.named_parameters(
        ("default", {}, 2),
        ("no_center", {"center": False}, 1),
        ("no_scale", {"scale": False}, 1),
    )
    def test_layer(self, kwargs, num_weights):
        self.run_layer_test(
            compat.LayerNormalization,
            init_kwargs=kwargs,
            input_shape=(2, 5, 3),
            expected_output_shape=(2, 5, 3),
            expected_num_trainable_weights=num_weights,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
        )

    def test_defaults_and_config(self):
        layer = compat.LayerNormalization()
        self.assertIsInstance(layer, modern.LayerNormalization)
        self.assertEqual(layer.epsilon, keras.backend.epsilon() ** 2)  # K.epsilon() ** 2
        self.assertEqual(layer.axis, -1)
        config = layer.get_config()
        self.assertTrue(OLD_CONFIG_KEYS <= set(config))
        self.assertNotIn("axis", config)  # not an old argument
        restored = compat.LayerNormalization.from_config(config)
        self.assertEqual(restored.get_config(), config)
        self.assertEqual(compat.LayerNormalization(epsilon=1e-5).epsilon, 1e-5)

    def test_old_config_deserializes_with_custom_objects(self):
        # What Keras 2 wrote into a model's JSON for the old layer.
        old = {
            "class_name": "LayerNormalization",
            "config": {
                "name": "Layer-Normalization",
                "trainable": True,
                "dtype": "float32",
                "center": True,
                "scale": False,
                "epsilon": 1e-14,
                "gamma_initializer": {"class_name": "Ones", "config": {}},
                "beta_initializer": {"class_name": "Zeros", "config": {}},
                "gamma_regularizer": None,
                "beta_regularizer": None,
                "gamma_constraint": None,
                "beta_constraint": None,
            },
        }
        layer = keras.saving.deserialize_keras_object(
            old, custom_objects=compat.get_custom_objects()
        )
        self.assertIsInstance(layer, compat.LayerNormalization)
        self.assertEqual(layer.name, "Layer-Normalization")
        self.assertFalse(layer.scale)
        self.assertEqual(layer.epsilon, 1e-14)

    def test_weights_are_gamma_then_beta_over_the_last_axis(self):
        layer = compat.LayerNormalization()
        layer.build((2, 5, 3))
        self.assertEqual(
            [(w.name, tuple(w.shape)) for w in layer.weights], [("gamma", (3,)), ("beta", (3,))]
        )

    def test_save_load(self):
        inputs = keras.Input((4, 3))
        x = keras.layers.Dense(6)(inputs)
        x = compat.LayerNormalization(name="Layer-Normalization")(x)
        model = keras.Model(inputs, x)
        rng = np.random.default_rng(0)
        norm = model.get_layer("Layer-Normalization")
        norm.set_weights([rng.normal(size=(6,)), rng.normal(size=(6,))])
        restored = self.run_save_load_check(model, rng.normal(size=(2, 4, 3)).astype("float32"))
        self.assertIsInstance(restored.get_layer("Layer-Normalization"), compat.LayerNormalization)

    def test_precision(self):
        x = np.random.default_rng(1).normal(size=(3, 4, 6)).astype("float32")
        rng = np.random.default_rng(2)

        def make(policy):
            layer = compat.LayerNormalization(dtype=policy)
            layer.build(x.shape)
            layer.set_weights([rng.normal(size=(6,)), rng.normal(size=(6,))])
            return layer

        self.run_precision_check(make, (x,))

    def test_constant_float16_rows_give_beta_not_nan(self):
        # The default epsilon (1e-14) is zero in float16: the old layer gave
        # 0 / 0 there. Statistics in float32 keep it, so a constant row is beta.
        x = np.full((2, 4), 3.0, "float16")
        layer = compat.LayerNormalization(dtype="mixed_float16", beta_initializer="ones")
        outputs = to_numpy(layer(x))
        np.testing.assert_array_equal(outputs, np.ones((2, 4), "float16"))


def test_golden_values_from_the_old_tests():
    # keras-layer-normalization's own test_sample.
    layer = compat.LayerNormalization(name="Layer-Normalization")
    actual = to_numpy(layer(goldens.LAYER_NORM_X))
    np.testing.assert_allclose(actual, goldens.LEGACY_LAYER_NORM_OUTPUTS, atol=1e-5)
    layer = compat.LayerNormalization(beta_initializer="ones")
    np.testing.assert_allclose(to_numpy(layer(np.zeros((2, 10, 256), "float32"))), 1.0)


def test_epsilon_is_added_to_the_variance():
    # x = [0, 2e-6], epsilon = 1e-12 under the square root: +-1/sqrt(2); were
    # epsilon added to the standard deviation it would be about +-1.
    layer = compat.LayerNormalization(
        epsilon=goldens.LEGACY_LAYER_NORM_EPSILON, center=False, scale=False
    )
    actual = to_numpy(layer(goldens.LEGACY_LAYER_NORM_EPSILON_X))
    np.testing.assert_allclose(actual, goldens.LEGACY_LAYER_NORM_EPSILON_OUTPUTS, rtol=1e-4)


@pytest.mark.parametrize("kwargs", [{}, {"center": False}, {"scale": False}, {"epsilon": 1e-3}])
def test_parity_with_the_old_math(kwargs):
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(2, 5, 6)) * 3 - 1).astype("float32")
    layer = compat.LayerNormalization(**kwargs)
    layer.build(x.shape)
    values = [rng.normal(size=(6,)) for _ in layer.weights]
    layer.set_weights(values)
    gamma = values[0] if layer.scale else None
    beta = values[-1] if layer.center else None
    expected = reference.legacy_layer_norm(x, gamma, beta, epsilon=layer.epsilon)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


def test_mask_and_training_argument():
    mask = np.array([[True, True, False]])
    layer = compat.LayerNormalization()
    assert layer.compute_mask(np.zeros((1, 3, 4)), mask) is mask
    x = np.random.default_rng(4).normal(size=(1, 3, 4)).astype("float32")
    np.testing.assert_array_equal(to_numpy(layer(x, training=True)), to_numpy(layer(x)))


def test_bad_epsilon():
    with pytest.raises(ValueError, match=r"`epsilon`.*epsilon=0\.0"):
        compat.LayerNormalization(epsilon=0.0)


def test_get_custom_objects():
    assert compat.get_custom_objects() == {"LayerNormalization": compat.LayerNormalization}
    assert keras.saving.get_registered_name(compat.LayerNormalization) == (
        "kerastack>LegacyLayerNormalization"
    )


# Weights saved by the old package: Keras 2 `model.save_weights("x.h5")`.


def write_keras2_weights(path, layers):
    """An HDF5 file laid out as Keras 2.x's `save_weights_to_hdf5_group`
    writes it: root attributes `layer_names`, `backend`, `keras_version`; one
    group per layer with attribute `weight_names` (TensorFlow variable names,
    "layer/weight:0") and one dataset per weight at `layer/<weight name>`,
    which nests as `layer/layer/weight:0`.

    `layers`: list of `(layer_name, [(weight_name, array), ...])` in model order.
    """
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.asarray([name.encode() for name, _ in layers])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.3.1"
        for layer_name, weights in layers:
            group = f.create_group(layer_name)
            names = [f"{layer_name}/{weight}:0".encode() for weight, _ in weights]
            group.attrs["weight_names"] = np.asarray(names)  # float64 [] if no weights
            for name, (_, value) in zip(names, weights, strict=True):
                group.create_dataset(name, data=np.asarray(value, "float32"))


def legacy_model():
    """keras-layer-normalization's usual place: after a projection."""
    inputs = keras.Input((5, 3), name="Input")
    x = keras.layers.Dense(4, name="Dense")(inputs)
    outputs = compat.LayerNormalization(name="Layer-Normalization")(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("by_name", [False, True])
def test_weights_saved_by_the_old_package_load(by_name):
    rng = np.random.default_rng(5)
    kernel, bias = rng.normal(size=(3, 4)), rng.normal(size=(4,))
    gamma, beta = rng.normal(size=(4,)), rng.normal(size=(4,))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "x.h5")
        write_keras2_weights(
            path,
            [
                ("Input", []),
                ("Dense", [("kernel", kernel), ("bias", bias)]),
                ("Layer-Normalization", [("gamma", gamma), ("beta", beta)]),
            ],
        )
        with h5py.File(path, "r") as f:  # the nested layout Keras 2 produced
            assert "Layer-Normalization/Layer-Normalization/gamma:0" in f
            assert "Layer-Normalization/Layer-Normalization/beta:0" in f
        model = legacy_model()
        model.load_weights(path, by_name=by_name)
    loaded = model.get_layer("Layer-Normalization").get_weights()
    np.testing.assert_allclose(loaded[0], gamma.astype("float32"))
    np.testing.assert_allclose(loaded[1], beta.astype("float32"))
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    hidden = x.astype("float64") @ kernel.astype("float32") + bias.astype("float32")
    expected = reference.legacy_layer_norm(
        hidden, gamma.astype("float32"), beta.astype("float32"), epsilon=1e-14
    )
    np.testing.assert_allclose(to_numpy(model(x)), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)
