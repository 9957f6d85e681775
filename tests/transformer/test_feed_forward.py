"""`kerastack.transformer.FeedForward`: the harness, golden values, parity
with the NumPy reference (plain and gated), precision, saving, gradients and
argument checks.

Letters: B batch, T length, D width, F intermediate width.
"""

import keras
import numpy as np
from absl.testing import parameterized

from kerastack.transformer import FeedForward
from tests import goldens
from tests.testing import (
    FD_EPS,
    FD_TOLERANCE,
    TestCase,
    finite_difference_gradient,
    float64_enabled,
    input_gradient,
    random_inputs,
)
from tests.transformer import reference
from tests.transformer.helpers import randomize


class FeedForwardLayerTest(TestCase):
    def run_feed_forward_test(self, init_kwargs, weights, seeds=0, output_width=6):
        self.run_layer_test(
            FeedForward,
            init_kwargs=init_kwargs,
            input_shape=(2, 3, 6),
            expected_output_shape=(2, 3, output_width),
            expected_num_trainable_weights=weights,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=seeds,
            expected_num_losses=0,
            supports_masking=True,
        )

    def test_plain(self):
        self.run_feed_forward_test({"intermediate_dim": 8}, weights=4)

    def test_gated(self):
        self.run_feed_forward_test(
            {"intermediate_dim": 8, "gated": True, "activation": "gelu"}, weights=6
        )

    def test_without_bias_and_output_dim(self):
        self.run_feed_forward_test(
            {"intermediate_dim": 8, "use_bias": False, "output_dim": 5}, weights=2, output_width=5
        )


class GoldenValueTest(TestCase):
    """Hand-set weights and hand-derived outputs: see tests/goldens.py."""

    def make_layer(self, gated):
        # D = F = O = 2. W1 = I, b1 = [0, -3]; Wg = 3 I, bg = 0;
        # W2 = diag(2, 5), b2 = [0.5, 0.5].
        weights = goldens.FEED_FORWARD_WEIGHTS
        layer = FeedForward(intermediate_dim=2, gated=gated)
        layer(np.zeros((1, 1, 2), "float32"))
        layer.intermediate_dense.kernel.assign(weights["w1"])
        layer.intermediate_dense.bias.assign(weights["b1"])
        if gated:
            layer.gate_dense.kernel.assign(weights["wg"])
            layer.gate_dense.bias.assign(weights["bg"])
        layer.output_dense.kernel.assign(weights["w2"])
        layer.output_dense.bias.assign(weights["b2"])
        return layer

    def test_relu(self):
        outputs = self.make_layer(False)(goldens.FEED_FORWARD_X)
        self.assert_close(outputs, goldens.FEED_FORWARD_OUTPUTS)

    def test_gated_relu(self):
        outputs = self.make_layer(True)(goldens.FEED_FORWARD_X)
        self.assert_close(outputs, goldens.FEED_FORWARD_GATED_OUTPUTS)


class ReferenceParityTest(TestCase, parameterized.TestCase):
    @parameterized.named_parameters(
        ("relu", "relu", False, True),
        ("gelu", "gelu", False, True),
        ("silu", "silu", False, True),
        ("geglu", "gelu", True, True),
        ("swiglu", "silu", True, True),
        ("reglu_no_bias", "relu", True, False),
    )
    def test_reference(self, activation, gated, use_bias):
        (x,) = random_inputs(1, (2, 4, 6))
        layer = FeedForward(
            intermediate_dim=5, activation=activation, gated=gated, use_bias=use_bias
        )
        layer(x)
        randomize(layer, 1)
        expected = reference.feed_forward(
            x, reference.feed_forward_weights(layer), activation, gated
        )
        self.assert_close(layer(x), expected)

    def test_output_dim(self):
        (x,) = random_inputs(2, (2, 3, 4))
        layer = FeedForward(intermediate_dim=5, output_dim=7)
        layer(x)
        randomize(layer, 2)
        expected = reference.feed_forward(x, reference.feed_forward_weights(layer))
        self.assertEqual(expected.shape, (2, 3, 7))
        self.assert_close(layer(x), expected)

    def test_dropout_only_in_training(self):
        (x,) = random_inputs(3, (2, 3, 4))
        layer = FeedForward(intermediate_dim=16, dropout=0.5)
        layer(x)
        randomize(layer, 3)
        expected = reference.feed_forward(x, reference.feed_forward_weights(layer))
        self.assert_close(layer(x), expected)
        self.assert_close(layer(x, training=False), expected)
        self.assertFalse(np.allclose(keras.ops.convert_to_numpy(layer(x, training=True)), expected))


class PrecisionTest(TestCase):
    def test_mixed_precision(self):
        (x,) = random_inputs(4, (2, 3, 8))
        for gated in (False, True):

            def make_layer(policy, gated=gated):
                return FeedForward(
                    intermediate_dim=16, gated=gated, activation="gelu", dtype=policy
                )

            self.run_precision_check(make_layer, (x,))


class SaveLoadTest(TestCase):
    def test_keras_round_trip(self):
        inputs = keras.Input((None, 6))
        outputs = FeedForward(intermediate_dim=8, activation="silu", gated=True, output_dim=4)(
            inputs
        )
        model = keras.Model(inputs, outputs)
        (x,) = random_inputs(5, (2, 3, 6))
        restored = self.run_save_load_check(model, x)
        layer = restored.layers[1]
        self.assertIsInstance(layer, FeedForward)
        self.assertEqual((layer.intermediate_dim, layer.gated, layer.output_dim), (8, True, 4))

    def test_config_round_trip(self):
        layer = FeedForward(
            intermediate_dim=7,
            activation="gelu",
            gated=True,
            dropout=0.25,
            output_dim=3,
            use_bias=False,
            kernel_initializer="he_normal",
            kernel_regularizer="l2",
        )
        config = layer.get_config()
        for name, value in {
            "intermediate_dim": 7,
            "activation": "gelu",
            "gated": True,
            "dropout": 0.25,
            "output_dim": 3,
            "use_bias": False,
        }.items():
            self.assertEqual(config[name], value, name)
        self.assertEqual(FeedForward.from_config(config).get_config(), config)


class GradientTest(TestCase):
    def test_gradient_matches_finite_differences(self):
        for gated in (False, True):
            with float64_enabled():
                layer = FeedForward(
                    intermediate_dim=4, activation="gelu", gated=gated, dtype="float64"
                )
                x = np.random.default_rng(6).normal(size=(1, 2, 3))
                layer(x)
                randomize(layer, 6, scale=0.8)
                analytic = input_gradient(layer, x)
                numeric = finite_difference_gradient(layer, x, eps=FD_EPS)
            self.assertGreater(np.abs(numeric).max(), 1e-3)
            np.testing.assert_allclose(analytic, numeric, **FD_TOLERANCE)


class ArgumentTest(TestCase):
    def test_bad_arguments(self):
        for kwargs, text in (
            ({"intermediate_dim": 0}, "intermediate_dim=0"),
            ({"intermediate_dim": -2}, "intermediate_dim=-2"),
            ({"intermediate_dim": 2.5}, "intermediate_dim=2.5"),
            ({"intermediate_dim": 4, "dropout": 1.0}, "dropout=1.0"),
            ({"intermediate_dim": 4, "dropout": -0.1}, "dropout=-0.1"),
            ({"intermediate_dim": 4, "output_dim": 0}, "output_dim=0"),
        ):
            with self.assertRaisesRegex(ValueError, text):
                FeedForward(**kwargs)

    def test_unknown_width(self):
        layer = FeedForward(intermediate_dim=4)
        with self.assertRaisesRegex(ValueError, "known last axis"):
            layer.build((2, 3, None))
