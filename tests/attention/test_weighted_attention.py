"""`WeightedAttention` (attention pooling): harness, golden values, NumPy
parity, padding, precision, saving, gradients and argument checks.

Letters: B batch, T sequence length, D feature size.
"""

import re

import keras
import numpy as np
import pytest
from absl.testing import parameterized
from hypothesis import given, settings
from hypothesis import strategies as st

from kerastack.attention import WeightedAttention
from tests import goldens, reference
from tests.testing import (
    FD_EPS,
    FD_TOLERANCE,
    FLOAT32_ATOL,
    FLOAT32_RTOL,
    REFERENCE_TOLERANCE,
    TestCase,
    finite_difference_gradient,
    float64_enabled,
    input_gradient,
    padding_mask,
    to_numpy,
)


def set_random_weights(layer, rng, scale=0.5):
    """Random `[w, b]` (the layer's own order: kernel `(D, 1)`, then bias)."""
    values = [rng.normal(size=tuple(v.shape)) * scale for v in layer.weights]
    layer.set_weights(values)
    return values


def make_layer(rng, input_shape=(2, 5, 3), **kwargs):
    layer = WeightedAttention(**kwargs)
    layer.build(input_shape)
    return layer, set_random_weights(layer, rng)


class WeightedAttentionLayerTest(TestCase):
    @parameterized.named_parameters(
        ("default", {}, 2, 0),
        ("no_bias", {"use_bias": False}, 1, 0),
        ("regularized", {"kernel_regularizer": "l2", "bias_regularizer": "l1"}, 2, 2),
    )
    def test_layer(self, kwargs, num_weights, num_losses):
        self.run_layer_test(
            WeightedAttention,
            init_kwargs=kwargs,
            input_shape=(2, 5, 3),
            expected_output_shape=(2, 3),
            expected_num_trainable_weights=num_weights,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=num_losses,
            supports_masking=True,
        )

    def test_layer_returning_scores(self):
        self.run_layer_test(
            WeightedAttention,
            init_kwargs={},
            input_shape=(2, 5, 3),
            call_kwargs={"return_attention_scores": True},
            expected_output_shape=((2, 3), (2, 5)),
            expected_num_trainable_weights=2,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
            run_training_check=False,  # the harness's loss sums one output
        )

    def test_config_round_trip(self):
        layer = WeightedAttention(
            use_bias=False, kernel_initializer="ones", kernel_regularizer="l2", name="pool"
        )
        restored = WeightedAttention.from_config(layer.get_config())
        self.assertEqual(restored.get_config(), layer.get_config())
        self.assertFalse(restored.use_bias)

    def test_save_load(self):
        inputs = keras.Input((None,), dtype="int32")
        x = keras.layers.Embedding(8, 4, mask_zero=True)(inputs)
        x = WeightedAttention(name="pool")(x)
        outputs = keras.layers.Dense(2)(x)
        model = keras.Model(inputs, outputs)
        ids = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 1], [0, 0, 0, 0, 0]], "int32")
        restored = self.run_save_load_check(model, ids)
        self.assertIsInstance(restored.get_layer("pool"), WeightedAttention)

    @parameterized.named_parameters(
        ("outputs", {}), ("returning_scores", {"return_attention_scores": True})
    )
    def test_precision(self, call_kwargs):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(3, 5, 3)).astype("float32")
        mask = padding_mask([5, 2, 0], 5)

        def make(policy):
            return WeightedAttention(dtype=policy)

        self.run_precision_check(make, (x,), {"mask": mask, **call_kwargs})


def test_golden_values():
    # w = [[1], [0]], b = 0 on one-hot inputs, then x1 masked: see
    # tests/goldens.py. One-hot inputs: the outputs equal the weights.
    layer = WeightedAttention()
    layer.build((1, 2, 2))
    layer.set_weights([goldens.WEIGHTED_ATTENTION_W, np.zeros(1)])
    x = goldens.ONE_HOT
    outputs, scores = layer(x, return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(scores), goldens.WEIGHTED_ATTENTION_OUTPUTS, atol=1e-6)
    np.testing.assert_allclose(to_numpy(outputs), goldens.WEIGHTED_ATTENTION_OUTPUTS, atol=1e-6)
    outputs, scores = layer(x, mask=goldens.WEIGHTED_ATTENTION_MASK, return_attention_scores=True)
    masked = goldens.WEIGHTED_ATTENTION_MASKED_OUTPUTS
    np.testing.assert_allclose(to_numpy(scores), masked, atol=1e-6)
    np.testing.assert_allclose(to_numpy(outputs), masked, atol=1e-6)


def test_golden_bias_cancels():
    # b is added to every score, so it cancels in the softmax.
    rng = np.random.default_rng(1)
    layer, (w, _) = make_layer(rng)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    before = to_numpy(layer(x))
    layer.set_weights([w, np.array([7.0])])
    np.testing.assert_allclose(to_numpy(layer(x)), before, atol=1e-6)


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("lengths", [None, [5, 3, 1]])
def test_parity_with_reference(use_bias, lengths):
    rng = np.random.default_rng(2)
    layer, weights = make_layer(rng, input_shape=(3, 5, 3), use_bias=use_bias)
    x = rng.normal(size=(3, 5, 3)).astype("float32")
    mask = None if lengths is None else padding_mask(lengths, 5)
    expected, expected_scores = reference.weighted_attention(
        x, weights[0], weights[1] if use_bias else 0.0, mask=mask
    )
    outputs, scores = layer(x, mask=mask, return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(outputs), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)
    np.testing.assert_allclose(
        to_numpy(scores), expected_scores, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL
    )
    np.testing.assert_allclose(
        to_numpy(layer(x, mask=mask)), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL
    )
    # Exact softmax: the weights sum to one (keras-self-attention's summed to
    # slightly less, from a 1e-7 added to the denominator).
    np.testing.assert_allclose(to_numpy(scores).sum(-1), 1.0, atol=1e-6, rtol=0)


@settings(max_examples=15, deadline=None)
@given(length=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_padding_never_changes_the_output(length, seed):
    # Padded to 5 with garbage flagged by the mask.
    rng = np.random.default_rng(seed)
    layer, _ = make_layer(rng, input_shape=(1, None, 3))
    x = rng.normal(size=(1, length, 3)).astype("float32")
    garbage = (rng.normal(size=(1, 5 - length, 3)) * 10).astype("float32")
    padded = np.concatenate([x, garbage], axis=1)
    mask = padding_mask([length], 5)
    expected, expected_scores = layer(x, return_attention_scores=True)
    actual, scores = layer(padded, mask=mask, return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(actual), to_numpy(expected), atol=1e-6, rtol=1e-5)
    scores = to_numpy(scores)
    np.testing.assert_allclose(scores[:, :length], to_numpy(expected_scores), atol=1e-6)
    np.testing.assert_array_equal(scores[:, length:], 0.0)


def test_padded_positions_get_exactly_zero_weight_in_a_model():
    inputs = keras.Input((None,), dtype="int32")
    embedding = keras.layers.Embedding(6, 3, mask_zero=True)
    outputs, scores = WeightedAttention()(embedding(inputs), return_attention_scores=True)
    model = keras.Model(inputs, [outputs, scores])
    ids = np.array([[1, 2, 3, 0, 0], [4, 5, 1, 2, 0]], "int32")
    outputs, scores = (to_numpy(t) for t in model(ids))
    np.testing.assert_array_equal(scores[ids == 0], 0.0)
    # Padded content (the embedding's row 0) must not reach the output.
    table = embedding.get_weights()[0]
    table[0] = [50.0, -30.0, 20.0]
    embedding.set_weights([table])
    np.testing.assert_allclose(to_numpy(model(ids)[0]), outputs, atol=1e-6)


def test_output_carries_no_mask():
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(6, 3, mask_zero=True)(inputs)
    pooled = WeightedAttention()(x)
    assert getattr(pooled, "_keras_mask", None) is None
    assert WeightedAttention().compute_mask(x, np.ones((2, 4), bool)) is None


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_all_padded_sequence_gives_zeros(dtype):
    rng = np.random.default_rng(3)
    layer = WeightedAttention(dtype=dtype)
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    mask = padding_mask([0, 3], 4)
    outputs, scores = layer(x, mask=mask, return_attention_scores=True)
    outputs = to_numpy(keras.ops.cast(outputs, "float32"))
    scores = to_numpy(keras.ops.cast(scores, "float32"))
    assert np.all(np.isfinite(outputs)) and np.all(np.isfinite(scores))
    np.testing.assert_array_equal(outputs[0], 0.0)
    np.testing.assert_array_equal(scores[0], 0.0)
    assert np.abs(outputs[1]).sum() > 0
    np.testing.assert_allclose(scores[1].sum(), 1.0, atol=1e-2)


def gradient_case(seed=4):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1, 3, 2))  # B=1, T=3, D=2
    layer = WeightedAttention(dtype="float64")
    layer.build((1, 3, 2))
    w, b = set_random_weights(layer, rng, scale=1.0)
    return layer, x, lambda v: reference.weighted_attention(v, w, b)[0]


def test_gradient_matches_finite_differences():
    with float64_enabled():
        layer, x, expected = gradient_case()
        analytic = input_gradient(layer, x)
        numeric = finite_difference_gradient(layer, x, eps=FD_EPS)
    assert analytic.dtype == np.float64
    assert np.abs(analytic).max() > 1e-3
    np.testing.assert_allclose(analytic, numeric, **FD_TOLERANCE)
    np.testing.assert_allclose(
        analytic, finite_difference_gradient(expected, x), **REFERENCE_TOLERANCE
    )


@pytest.mark.parametrize("shape", [(2, 4), (2, 4, 3, 2, 1)])
def test_bad_input_rank(shape):
    with pytest.raises(ValueError, match=r"`inputs` of rank 3.*" + re.escape(str(shape))):
        WeightedAttention()(np.zeros(shape, "float32"))


def test_bad_mask_shape():
    x = np.zeros((2, 4, 3), "float32")
    with pytest.raises(ValueError, match=r"`mask` of shape \(2, 5\).*\(2, 4\)"):
        WeightedAttention()(x, mask=np.ones((2, 5), bool))
    with pytest.raises(ValueError, match=r"`mask` of shape \(2, 4, 1\)"):
        WeightedAttention()(x, mask=np.ones((2, 4, 1), bool))
