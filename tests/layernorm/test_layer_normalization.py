"""`LayerNormalization`: harness, golden values, parity with
`keras.layers.LayerNormalization` and a NumPy reference, precision (float32
statistics), saving, masking, gradients and argument checks."""

import keras
import numpy as np
import pytest
from absl.testing import parameterized

from kerastack.layernorm import LayerNormalization
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

# Against keras.layers.LayerNormalization with the same weights, in float32:
# the same formula, rounded in a different order.
KERAS_ATOL = 1e-6
KERAS_RTOL = 1e-6


def set_random_weights(layer, rng):
    """Random weights in the layer's own order (`gamma`, then `beta`)."""
    values = [rng.normal(size=tuple(v.shape)) for v in layer.weights]
    layer.set_weights(values)
    return values


def split(layer, values):
    """`(gamma, beta)` from `values` in weight order, None where absent."""
    values = iter(values)
    gamma = next(values) if layer.scale else None
    beta = next(values) if layer.center else None
    return gamma, beta


class LayerNormalizationLayerTest(TestCase):
    @parameterized.named_parameters(
        ("default", {}, (2, 5, 3), 2, 0),
        ("no_center", {"center": False}, (2, 5, 3), 1, 0),
        ("no_scale", {"scale": False}, (2, 5, 3), 1, 0),
        ("neither", {"center": False, "scale": False}, (2, 5, 3), 0, 0),
        ("axes", {"axis": [1, 2]}, (2, 3, 4), 2, 0),
        ("middle_axis", {"axis": 1}, (2, 3, 4), 2, 0),
        ("regularized", {"gamma_regularizer": "l2", "beta_regularizer": "l1"}, (2, 5, 3), 2, 2),
    )
    def test_layer(self, kwargs, input_shape, num_weights, num_losses):
        self.run_layer_test(
            LayerNormalization,
            init_kwargs=kwargs,
            input_shape=input_shape,
            expected_output_shape=input_shape,
            expected_num_trainable_weights=num_weights,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=num_losses,
            supports_masking=True,
        )

    def test_weights_match_keras(self):
        # Names, order and shapes as keras.layers.LayerNormalization.
        for axis, shape in [(-1, (2, 5, 3)), ([1, 2], (2, 3, 4)), (1, (2, 3, 4))]:
            ours = LayerNormalization(axis=axis)
            ours.build(shape)
            theirs = keras.layers.LayerNormalization(axis=axis)
            theirs.build(shape)
            self.assertEqual([w.name for w in ours.weights], ["gamma", "beta"])
            self.assertEqual(
                [(w.name, tuple(w.shape)) for w in ours.weights],
                [(w.name, tuple(w.shape)) for w in theirs.weights],
            )

    def test_config_round_trip(self):
        layer = LayerNormalization(
            axis=(1, 2),
            epsilon=1e-5,
            center=False,
            gamma_initializer="zeros",
            gamma_regularizer="l2",
            gamma_constraint="non_neg",
            name="norm",
        )
        config = layer.get_config()
        self.assertEqual(config["axis"], [1, 2])
        for key in (
            "axis",
            "epsilon",
            "center",
            "scale",
            "beta_initializer",
            "gamma_initializer",
            "beta_regularizer",
            "gamma_regularizer",
            "beta_constraint",
            "gamma_constraint",
        ):
            self.assertIn(key, config)
        restored = LayerNormalization.from_config(config)
        self.assertEqual(restored.get_config(), config)

    def test_save_load(self):
        inputs = keras.Input((4, 3))
        x = keras.layers.Dense(6)(inputs)
        x = LayerNormalization(axis=[1, 2], name="norm")(x)
        model = keras.Model(inputs, x)
        set_random_weights(model.get_layer("norm"), np.random.default_rng(0))
        x = np.random.default_rng(1).normal(size=(2, 4, 3)).astype("float32")
        restored = self.run_save_load_check(model, x)
        self.assertIsInstance(restored.get_layer("norm"), LayerNormalization)
        self.assertEqual(restored.get_layer("norm").axis, [1, 2])

    @parameterized.named_parameters(
        ("last_axis", {}, (3, 4, 6)),
        ("axes", {"axis": [1, 2]}, (3, 4, 6)),
        ("no_center", {"center": False}, (3, 4, 6)),
    )
    def test_precision(self, kwargs, shape):
        x = np.random.default_rng(2).normal(size=shape).astype("float32")
        rng = np.random.default_rng(3)

        def make(policy):
            layer = LayerNormalization(dtype=policy, **kwargs)
            layer.build(shape)
            set_random_weights(layer, rng)
            return layer

        self.run_precision_check(make, (x,))

    @parameterized.named_parameters(("float16", "mixed_float16"), ("bfloat16", "mixed_bfloat16"))
    def test_large_half_inputs_use_float32_statistics(self, policy):
        # Values near 300: their squares (about 9e4) overflow float16 (max
        # 65504), so a variance computed in float16 would be inf and the
        # output zero or NaN. Computed in float32 it is finite and right.
        rng = np.random.default_rng(4)
        x = (300.0 * rng.normal(size=(3, 16))).astype("float16")
        with np.errstate(over="ignore"):
            assert np.isinf(np.square(x)).any()  # float16 squares overflow
        layer = LayerNormalization(dtype=policy)
        layer.build(x.shape)
        gamma, beta = set_random_weights(layer, rng)
        outputs = layer(x)
        self.assertEqual(keras.backend.standardize_dtype(outputs.dtype), policy[len("mixed_") :])
        outputs = to_numpy(outputs).astype("float32")
        self.assertTrue(np.all(np.isfinite(outputs)))
        expected = reference.layer_norm(x.astype("float64"), gamma, beta)
        self.assert_close(outputs, expected, atol=HALF_ATOL[policy], rtol=HALF_ATOL[policy])


def test_golden_values():
    # Two rows normalized by hand, then gamma and beta: see tests/goldens.py.
    layer = LayerNormalization(epsilon=1e-12)
    layer.build((1, 2, 3))
    layer.set_weights([goldens.LAYER_NORM_GAMMA, goldens.LAYER_NORM_BETA])
    actual = to_numpy(layer(goldens.LAYER_NORM_X))
    np.testing.assert_allclose(actual, goldens.LAYER_NORM_OUTPUTS, atol=1e-5)


def test_golden_epsilon_is_added_to_the_variance():
    # x = [-1e-3, 1e-3], epsilon = 3e-6: +-0.5 (tests/goldens.py).
    layer = LayerNormalization(epsilon=goldens.LAYER_NORM_EPSILON, center=False, scale=False)
    actual = to_numpy(layer(goldens.LAYER_NORM_EPSILON_X))
    np.testing.assert_allclose(actual, goldens.LAYER_NORM_EPSILON_OUTPUTS, rtol=1e-5)


# keras.layers.LayerNormalization (3.15) serves these on every backend. On
# PyTorch it hands any run of adjacent axes to `F.layer_norm`, which only
# normalizes trailing axes, so a non-trailing axis such as `axis=1` of a
# rank-3 input fails there: such cases are checked against NumPy only.
KERAS_CASES = [
    (-1, (2, 5, 8), {}),
    (-1, (2, 5, 8), {"center": False}),
    (-1, (2, 5, 8), {"scale": False}),
    ([1, 2], (2, 3, 4), {}),
    ([-2, -1], (2, 3, 4, 5), {"epsilon": 1e-5}),
    ([1, 3], (2, 3, 4, 5), {}),
]
OTHER_CASES = [
    (1, (2, 6, 3), {}),
    ([0, 2], (4, 3, 2), {"center": False}),
    (0, (4, 3), {"epsilon": 1e-5}),
]


def random_case(axis, shape, kwargs):
    rng = np.random.default_rng(5)
    x = (rng.normal(size=shape) * 2 + 0.5).astype("float32")
    layer = LayerNormalization(axis=axis, **kwargs)
    layer.build(shape)
    return layer, x, set_random_weights(layer, rng)


@pytest.mark.parametrize("axis, shape, kwargs", KERAS_CASES)
def test_parity_with_keras(axis, shape, kwargs):
    ours, x, values = random_case(axis, shape, kwargs)
    theirs = keras.layers.LayerNormalization(axis=axis, **kwargs)
    theirs.build(shape)
    theirs.set_weights(values)
    np.testing.assert_allclose(
        to_numpy(ours(x)), to_numpy(theirs(x)), atol=KERAS_ATOL, rtol=KERAS_RTOL
    )


@pytest.mark.parametrize("axis, shape, kwargs", KERAS_CASES + OTHER_CASES)
def test_parity_with_reference(axis, shape, kwargs):
    layer, x, values = random_case(axis, shape, kwargs)
    gamma, beta = split(layer, values)
    expected = reference.layer_norm(x, gamma, beta, axis=axis, epsilon=layer.epsilon)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


def test_inputs_far_from_zero_keep_their_accuracy():
    # The variance is taken of the centred values (two passes), so an offset
    # of 1e3 costs little; the one-pass E[x^2] - E[x]^2 in float32 loses
    # about 0.1 of these outputs to cancellation.
    rng = np.random.default_rng(6)
    x = (1e3 + rng.normal(size=(4, 32))).astype("float32")
    layer = LayerNormalization(center=False, scale=False, epsilon=1e-6)
    expected = reference.layer_norm(x, axis=-1, epsilon=1e-6)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, atol=5e-4)


def test_mask_passes_through():
    # Normalizing over features never mixes positions, and the mask reaches
    # the pooling layer: padding never changes the result.
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(8, 4, mask_zero=True)(inputs)
    x = LayerNormalization()(x)
    outputs = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, outputs)
    short = np.array([[1, 2, 3]], "int32")
    padded = np.array([[1, 2, 3, 0, 0]], "int32")
    np.testing.assert_allclose(to_numpy(model(padded)), to_numpy(model(short)), atol=1e-6)
    mask = np.array([[True, False]])
    assert LayerNormalization().compute_mask(np.zeros((1, 2, 3)), mask) is mask


@pytest.mark.parametrize("axis", [-1, [1, 2]])
def test_gradient_matches_finite_differences(axis):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(1, 2, 3))
    with float64_enabled():
        layer = LayerNormalization(axis=axis, dtype="float64")
        layer.build(x.shape)
        gamma, beta = set_random_weights(layer, rng)
        analytic = input_gradient(layer, x)
        numeric = finite_difference_gradient(layer, x, eps=FD_EPS)
    assert analytic.dtype == np.float64
    assert np.abs(analytic).max() > 1e-3
    np.testing.assert_allclose(analytic, numeric, **FD_TOLERANCE)

    def expected(v):
        return reference.layer_norm(v, gamma, beta, axis=axis, epsilon=layer.epsilon)

    np.testing.assert_allclose(
        analytic, finite_difference_gradient(expected, x), **REFERENCE_TOLERANCE
    )


# Bad arguments.


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"epsilon": 0.0}, r"`epsilon`.*epsilon=0\.0"),
        ({"epsilon": -1e-3}, r"`epsilon`.*epsilon=-0\.001"),
        ({"epsilon": None}, r"`epsilon`.*epsilon=None"),
        ({"axis": "last"}, r"`axis`.*axis='last'"),
        ({"axis": []}, r"`axis`.*axis=\[\]"),
        ({"axis": 1.0}, r"`axis`.*axis=1\.0"),
    ],
)
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        LayerNormalization(**kwargs)


@pytest.mark.parametrize(
    "axis, shape, pattern",
    [
        (3, (2, 3, 4), r"axis=3.*out of range.*rank 3"),
        (-4, (2, 3, 4), r"axis=-4.*out of range"),
        ([1, 5], (2, 3, 4), r"axis=\[1, 5\].*axis 5 is out of range"),
        ([1, -2], (2, 3, 4), r"axis=\[1, -2\].*twice"),
        (1, (2, None, 4), r"known sizes.*axis=1"),
    ],
)
def test_bad_axis_at_build(axis, shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        LayerNormalization(axis=axis).build(shape)
