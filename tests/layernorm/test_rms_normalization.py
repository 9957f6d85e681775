"""`RMSNormalization`: harness, golden values, parity with
`keras.layers.RMSNormalization` and a NumPy reference, precision (float32
statistics), saving, masking, gradients and argument checks."""

import keras
import numpy as np
import pytest
from absl.testing import parameterized

from kerastack.layernorm import RMSNormalization
from tests import goldens
from tests.layernorm import reference
from tests.testing import (
    FD_EPS,
    FD_TOLERANCE,
    FLOAT32_ATOL,
    FLOAT32_RTOL,
    HALF_ATOL,
    REFERENCE_TOLERANCE,
    TestCase,
    finite_difference_gradient,
    float64_enabled,
    input_gradient,
    to_numpy,
)

# Against keras.layers.RMSNormalization with the same weight, in float32.
KERAS_ATOL = 1e-6
KERAS_RTOL = 1e-6


def set_random_weights(layer, rng):
    values = [rng.normal(size=tuple(v.shape)) for v in layer.weights]
    layer.set_weights(values)
    return values


class RMSNormalizationLayerTest(TestCase):
    @parameterized.named_parameters(
        ("default", {}, (2, 5, 3), 1, 0),
        ("no_scale", {"scale": False}, (2, 5, 3), 0, 0),
        ("axes", {"axis": [1, 2]}, (2, 3, 4), 1, 0),
        ("regularized", {"gamma_regularizer": "l2"}, (2, 5, 3), 1, 1),
    )
    def test_layer(self, kwargs, input_shape, num_weights, num_losses):
        self.run_layer_test(
            RMSNormalization,
            init_kwargs=kwargs,
            input_shape=input_shape,
            expected_output_shape=input_shape,
            expected_num_trainable_weights=num_weights,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=num_losses,
            supports_masking=True,
        )

    def test_weight_matches_keras(self):
        # One weight, named "scale" as in keras.layers.RMSNormalization.
        for axis, shape in [(-1, (2, 5, 3)), ([1, 2], (2, 3, 4))]:
            ours = RMSNormalization(axis=axis)
            ours.build(shape)
            theirs = keras.layers.RMSNormalization(axis=axis)
            theirs.build(shape)
            self.assertEqual([w.name for w in ours.weights], ["scale"])
            self.assertIs(ours.weights[0], ours.gamma)
            self.assertEqual(
                [(w.name, tuple(w.shape)) for w in ours.weights],
                [(w.name, tuple(w.shape)) for w in theirs.weights],
            )
            # Keras's defaults are ours.
            self.assertEqual(theirs.epsilon, ours.epsilon)

    def test_config_round_trip(self):
        layer = RMSNormalization(
            axis=(1, 2),
            epsilon=1e-5,
            scale=False,
            gamma_initializer="zeros",
            gamma_regularizer="l2",
            gamma_constraint="non_neg",
            name="rms",
        )
        config = layer.get_config()
        self.assertEqual(config["axis"], [1, 2])
        for key in (
            "axis",
            "epsilon",
            "scale",
            "gamma_initializer",
            "gamma_regularizer",
            "gamma_constraint",
        ):
            self.assertIn(key, config)
        restored = RMSNormalization.from_config(config)
        self.assertEqual(restored.get_config(), config)

    def test_save_load(self):
        inputs = keras.Input((4, 3))
        x = keras.layers.Dense(6)(inputs)
        x = RMSNormalization(name="rms")(x)
        model = keras.Model(inputs, x)
        set_random_weights(model.get_layer("rms"), np.random.default_rng(0))
        x = np.random.default_rng(1).normal(size=(2, 4, 3)).astype("float32")
        restored = self.run_save_load_check(model, x)
        self.assertIsInstance(restored.get_layer("rms"), RMSNormalization)

    @parameterized.named_parameters(("last_axis", {}), ("axes", {"axis": [1, 2]}))
    def test_precision(self, kwargs):
        shape = (3, 4, 6)
        x = np.random.default_rng(2).normal(size=shape).astype("float32")
        rng = np.random.default_rng(3)

        def make(policy):
            layer = RMSNormalization(dtype=policy, **kwargs)
            layer.build(shape)
            set_random_weights(layer, rng)
            return layer

        self.run_precision_check(make, (x,))

    @parameterized.named_parameters(("float16", "mixed_float16"), ("bfloat16", "mixed_bfloat16"))
    def test_large_half_inputs_use_float32_statistics(self, policy):
        # Squares of values near 300 overflow float16; in float32 they do not.
        rng = np.random.default_rng(4)
        x = (300.0 * rng.normal(size=(3, 16))).astype("float16")
        with np.errstate(over="ignore"):
            assert np.isinf(np.square(x)).any()  # float16 squares overflow
        layer = RMSNormalization(dtype=policy)
        layer.build(x.shape)
        (gamma,) = set_random_weights(layer, rng)
        outputs = layer(x)
        self.assertEqual(keras.backend.standardize_dtype(outputs.dtype), policy[len("mixed_") :])
        outputs = to_numpy(outputs).astype("float32")
        self.assertTrue(np.all(np.isfinite(outputs)))
        expected = reference.rms_norm(x.astype("float64"), gamma)
        self.assert_close(outputs, expected, atol=HALF_ATOL[policy], rtol=HALF_ATOL[policy])


def test_golden_values():
    # x = [3, 4], gamma = [1, 0.5]: see tests/goldens.py.
    layer = RMSNormalization(epsilon=1e-12)
    layer.build((1, 2))
    layer.set_weights([goldens.RMS_NORM_GAMMA])
    actual = to_numpy(layer(goldens.RMS_NORM_X))
    np.testing.assert_allclose(actual, goldens.RMS_NORM_OUTPUTS, rtol=1e-6)


def test_golden_no_centring():
    # A constant row is not centred: it normalizes to ones (not zeros).
    layer = RMSNormalization(scale=False, epsilon=1e-12)
    np.testing.assert_allclose(to_numpy(layer(np.full((1, 4), -7.0, "float32"))), -np.ones((1, 4)))


# Trailing axes: keras.layers.RMSNormalization (3.15) multiplies by its weight
# without reshaping it, so only there can it serve as a reference.
KERAS_CASES = [
    (-1, (2, 5, 8)),
    ([1, 2], (2, 3, 4)),
    ([-2, -1], (2, 3, 4, 5)),
]
# Any other axes: against the NumPy reference only.
OTHER_CASES = [
    (1, (2, 6, 3)),
    ([1, 3], (2, 3, 4, 5)),
    (0, (4, 3)),
]


def random_case(axis, shape):
    rng = np.random.default_rng(5)
    x = (rng.normal(size=shape) * 2 + 0.5).astype("float32")
    layer = RMSNormalization(axis=axis)
    layer.build(shape)
    return layer, x, set_random_weights(layer, rng)


@pytest.mark.parametrize("axis, shape", KERAS_CASES)
def test_parity_with_keras(axis, shape):
    ours, x, values = random_case(axis, shape)
    theirs = keras.layers.RMSNormalization(axis=axis)
    theirs.build(shape)
    theirs.set_weights(values)
    np.testing.assert_allclose(
        to_numpy(ours(x)), to_numpy(theirs(x)), atol=KERAS_ATOL, rtol=KERAS_RTOL
    )


@pytest.mark.parametrize("axis, shape", KERAS_CASES + OTHER_CASES)
def test_parity_with_reference(axis, shape):
    layer, x, values = random_case(axis, shape)
    expected = reference.rms_norm(x, values[0], axis=axis, epsilon=layer.epsilon)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


def test_parity_without_scale():
    x = np.random.default_rng(6).normal(size=(3, 7)).astype("float32")
    expected = reference.rms_norm(x, epsilon=1e-6)
    actual = to_numpy(RMSNormalization(scale=False)(x))
    np.testing.assert_allclose(actual, expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


def test_mask_passes_through():
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(8, 4, mask_zero=True)(inputs)
    x = RMSNormalization()(x)
    outputs = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, outputs)
    short = np.array([[1, 2, 3]], "int32")
    padded = np.array([[1, 2, 3, 0, 0]], "int32")
    np.testing.assert_allclose(to_numpy(model(padded)), to_numpy(model(short)), atol=1e-6)
    mask = np.array([[True, False]])
    assert RMSNormalization().compute_mask(np.zeros((1, 2, 3)), mask) is mask


@pytest.mark.parametrize("axis", [-1, [1, 2]])
def test_gradient_matches_finite_differences(axis):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(1, 2, 3))
    with float64_enabled():
        layer = RMSNormalization(axis=axis, dtype="float64")
        layer.build(x.shape)
        (gamma,) = set_random_weights(layer, rng)
        analytic = input_gradient(layer, x)
        numeric = finite_difference_gradient(layer, x, eps=FD_EPS)
    assert analytic.dtype == np.float64
    assert np.abs(analytic).max() > 1e-3
    np.testing.assert_allclose(analytic, numeric, **FD_TOLERANCE)

    def expected(v):
        return reference.rms_norm(v, gamma, axis=axis, epsilon=layer.epsilon)

    np.testing.assert_allclose(
        analytic, finite_difference_gradient(expected, x), **REFERENCE_TOLERANCE
    )


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"epsilon": 0}, r"`epsilon`.*epsilon=0"),
        ({"epsilon": -1e-6}, r"`epsilon`.*epsilon=-1e-06"),
        ({"axis": "last"}, r"`axis`.*axis='last'"),
        ({"axis": [1, None]}, r"`axis`.*axis=\[1, None\]"),
    ],
)
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        RMSNormalization(**kwargs)


@pytest.mark.parametrize(
    "axis, shape, pattern",
    [
        (2, (2, 3), r"axis=2.*out of range.*rank 2"),
        ([0, -3], (2, 3), r"axis=\[0, -3\].*axis -3 is out of range"),
        ([-1, 2], (2, 3, 4), r"axis=\[-1, 2\].*twice"),
    ],
)
def test_bad_axis_at_build(axis, shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        RMSNormalization(axis=axis).build(shape)
