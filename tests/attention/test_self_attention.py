"""`SelfAttention`: harness, golden values, NumPy parity, padding, causality,
precision, saving, gradients and argument checks.

Letters: B batch, T sequence length, D feature size, U units.
"""

import re
from unittest import mock

import keras
import numpy as np
import pytest
from absl.testing import parameterized
from hypothesis import given, settings
from hypothesis import strategies as st

from kerastack.attention import SelfAttention, functional
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

# Layer weights by the end of their path, and their names in tests/reference.py.
REFERENCE_NAMES = {
    "additive": {
        "query/kernel": "Wt",
        "key/kernel": "Wx",
        "key/bias": "bh",
        "score/kernel": "Wa",
        "score/bias": "ba",
    },
    "multiplicative": {"query/kernel": "Wa", "score_bias": "ba"},
}
WIDTHS = (None, 1, 2, 3, 4)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def set_random_weights(layer, rng, scale=0.5):
    """Give every weight of a built layer random values (biases too, so they
    matter); returns them keyed by their tests/reference.py names."""
    names = REFERENCE_NAMES[layer.attention_type]
    values, weights = [], {}
    for variable in layer.weights:
        (name,) = [name for suffix, name in names.items() if variable.path.endswith(suffix)]
        value = rng.normal(size=tuple(variable.shape)) * scale
        values.append(value)
        weights[name] = value
    layer.set_weights(values)
    return weights


def make_layer(rng, input_shape=(2, 5, 3), **kwargs):
    layer = SelfAttention(**{"units": 4, **kwargs})
    layer.build(input_shape)
    return layer, set_random_weights(layer, rng)


class SelfAttentionLayerTest(TestCase):
    @parameterized.named_parameters(
        ("additive", {}, 5, 0),
        # No biases, and l2 on the kernels: one loss per regularized kernel.
        (
            "additive_no_biases_regularized",
            {"use_additive_bias": False, "use_attention_bias": False, "kernel_regularizer": "l2"},
            3,
            3,
        ),
        ("multiplicative", {"attention_type": "multiplicative"}, 2, 0),
        (
            "multiplicative_no_bias",
            {"attention_type": "multiplicative", "use_attention_bias": False},
            1,
            0,
        ),
        # With the attention regularizer: one loss.
        (
            "additive_window_causal_sigmoid_regularized",
            {
                "attention_width": 3,
                "causal": True,
                "attention_activation": "sigmoid",
                "attention_regularizer_weight": 0.1,
            },
            5,
            1,
        ),
        (
            "multiplicative_window_causal",
            {"attention_type": "multiplicative", "attention_width": 2, "causal": True},
            2,
            0,
        ),
        (
            "multiplicative_sigmoid",
            {"attention_type": "multiplicative", "attention_activation": "sigmoid"},
            2,
            0,
        ),
    )
    def test_layer(self, kwargs, num_weights, num_losses):
        self.run_layer_test(
            SelfAttention,
            init_kwargs={"units": 4, **kwargs},
            input_shape=(2, 5, 3),
            expected_output_shape=(2, 5, 3),
            expected_num_trainable_weights=num_weights,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=num_losses,
            supports_masking=True,
        )

    def test_layer_returning_scores(self):
        self.run_layer_test(
            SelfAttention,
            init_kwargs={"units": 4, "attention_activation": "sigmoid"},
            input_shape=(2, 5, 3),
            call_kwargs={"return_attention_scores": True},
            expected_output_shape=((2, 5, 3), (2, 5, 5)),
            expected_num_trainable_weights=5,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
            run_training_check=False,  # the harness's loss sums one output
        )

    def test_weight_shapes(self):
        layer = SelfAttention(units=4)
        layer.build((None, None, 3))
        shapes = {
            variable.path.split("/", 1)[1]: tuple(variable.shape) for variable in layer.weights
        }
        self.assertEqual(
            shapes,
            {
                "query/kernel": (3, 4),
                "key/kernel": (3, 4),
                "key/bias": (4,),
                "score/kernel": (4, 1),
                "score/bias": (1,),
            },
        )
        layer = SelfAttention(attention_type="multiplicative")
        layer.build((None, None, 3))
        shapes = {
            variable.path.split("/", 1)[1]: tuple(variable.shape) for variable in layer.weights
        }
        self.assertEqual(shapes, {"query/kernel": (3, 3), "score_bias": (1,)})

    def test_config_round_trip(self):
        layer = SelfAttention(
            units=7,
            attention_type="multiplicative",
            attention_width=3,
            causal=True,
            attention_activation="sigmoid",
            use_additive_bias=False,
            use_attention_bias=False,
            kernel_regularizer="l2",
            attention_regularizer_weight=0.25,
        )
        restored = SelfAttention.from_config(layer.get_config())
        self.assertEqual(restored.get_config(), layer.get_config())
        self.assertEqual(restored.attention_width, 3)
        self.assertTrue(restored.causal)
        self.assertEqual(restored.attention_regularizer_weight, 0.25)

    @parameterized.named_parameters(
        ("additive", {"attention_activation": "sigmoid", "attention_width": 3}),
        ("multiplicative_fused", {"attention_type": "multiplicative"}),
        ("multiplicative_causal", {"attention_type": "multiplicative", "causal": True}),
    )
    def test_save_load(self, kwargs):
        inputs = keras.Input((None,), dtype="int32")
        x = keras.layers.Embedding(8, 3, mask_zero=True)(inputs)
        x = SelfAttention(units=3, name="attention", **kwargs)(x)
        outputs = keras.layers.Dense(2)(x)
        model = keras.Model(inputs, outputs)
        ids = np.array([[1, 2, 3, 0, 0], [5, 6, 7, 1, 2]], "int32")
        restored = self.run_save_load_check(model, ids)
        self.assertIsInstance(restored.get_layer("attention"), SelfAttention)
        self.assertEqual(
            restored.get_layer("attention").get_config(), model.get_layer("attention").get_config()
        )

    @parameterized.named_parameters(
        ("additive", {}, {}),
        ("additive_sigmoid_window", {"attention_activation": "sigmoid", "attention_width": 3}, {}),
        ("multiplicative_fused_causal", {"attention_type": "multiplicative", "causal": True}, {}),
        (
            "returning_scores",
            {"attention_type": "multiplicative"},
            {"return_attention_scores": True},
        ),
    )
    def test_precision(self, kwargs, call_kwargs):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(2, 5, 3)).astype("float32")
        mask = padding_mask([5, 3], 5)

        def make(policy):
            return SelfAttention(units=4, dtype=policy, **kwargs)

        self.run_precision_check(make, (x,), {"mask": mask, **call_kwargs})


# Golden values, derived by hand.


@pytest.mark.parametrize("return_scores", [False, True])  # fused and explicit paths
def test_golden_multiplicative_identity(return_scores):
    # W_a = I, b_a = 0 on one-hot inputs: see tests/goldens.py.
    layer = SelfAttention(attention_type="multiplicative")
    layer.build((1, 2, 2))
    # [b_a, W_a] in layer.weights order.
    layer.set_weights([np.zeros(1), goldens.SELF_ATTENTION_MULTIPLICATIVE_W])
    x = goldens.ONE_HOT
    expected = goldens.SELF_ATTENTION_MULTIPLICATIVE_OUTPUTS
    result = layer(x, return_attention_scores=return_scores)
    if return_scores:
        np.testing.assert_allclose(to_numpy(result[1])[0], expected, atol=1e-6)
        result = result[0]
    np.testing.assert_allclose(to_numpy(result)[0], expected, atol=1e-6)


def test_golden_multiplicative_sigmoid():
    # As above with a sigmoid on the scores: see tests/goldens.py.
    layer = SelfAttention(attention_type="multiplicative", attention_activation="sigmoid")
    layer.build((1, 2, 2))
    layer.set_weights([np.zeros(1), goldens.SELF_ATTENTION_MULTIPLICATIVE_W])
    outputs = to_numpy(layer(goldens.ONE_HOT))[0]
    np.testing.assert_allclose(
        outputs, goldens.SELF_ATTENTION_MULTIPLICATIVE_SIGMOID_OUTPUTS, atol=1e-6
    )


def test_golden_additive():
    # U = 1, the score depends on the key only: see tests/goldens.py.
    layer = SelfAttention(units=1)
    layer.build((1, 2, 2))
    weights = goldens.SELF_ATTENTION_ADDITIVE_WEIGHTS
    layer.set_weights([weights[name] for name in ("Wt", "Wx", "bh", "Wa", "ba")])
    outputs, scores = layer(goldens.ONE_HOT, return_attention_scores=True)
    expected = goldens.SELF_ATTENTION_ADDITIVE_OUTPUTS
    np.testing.assert_allclose(to_numpy(scores)[0], expected, atol=1e-6)
    np.testing.assert_allclose(to_numpy(outputs)[0], expected, atol=1e-6)


@pytest.mark.parametrize("attention_type", ["additive", "multiplicative"])
@pytest.mark.parametrize("causal", [False, True])
def test_golden_width_one_is_the_identity(attention_type, causal):
    # A window of one key: each position attends only to itself, weight 1,
    # whatever the weights: the output is the input.
    rng = np.random.default_rng(2)
    layer, _ = make_layer(rng, attention_type=attention_type, attention_width=1, causal=causal)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    np.testing.assert_allclose(to_numpy(layer(x)), x, atol=1e-6)


@pytest.mark.parametrize("attention_type", ["additive", "multiplicative"])
def test_golden_causal_first_position_sees_only_itself(attention_type):
    rng = np.random.default_rng(3)
    layer, _ = make_layer(rng, attention_type=attention_type, causal=True)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    outputs, scores = layer(x, return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(outputs)[:, 0], x[:, 0], atol=1e-6)
    np.testing.assert_allclose(to_numpy(scores)[:, 0], np.eye(5)[[0, 0]], atol=1e-6)


# Parity with tests/reference.py.


PARITY_CASES = [
    (attention_type, width, causal, activation)
    for attention_type in ("additive", "multiplicative")
    for width in WIDTHS
    for causal in (False, True)
    for activation in ((None, "sigmoid") if width in (None, 3) else (None,))
]


@pytest.mark.parametrize("attention_type, width, causal, activation", PARITY_CASES)
def test_parity_with_reference(attention_type, width, causal, activation):
    rng = np.random.default_rng(4)
    layer, weights = make_layer(
        rng,
        attention_type=attention_type,
        attention_width=width,
        causal=causal,
        attention_activation=activation,
    )
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    mask = padding_mask([5, 3], 5)
    expected, expected_scores = reference.self_attention(
        x,
        weights,
        attention_type,
        attention_width=width,
        causal=causal,
        activation=sigmoid if activation else None,
        mask=mask,
    )
    outputs = layer(x, mask=mask)
    explicit, scores = layer(x, mask=mask, return_attention_scores=True)
    for actual, wanted in ((outputs, expected), (explicit, expected), (scores, expected_scores)):
        np.testing.assert_allclose(to_numpy(actual), wanted, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


@pytest.mark.parametrize("attention_type", ["additive", "multiplicative"])
def test_parity_without_mask(attention_type):
    rng = np.random.default_rng(5)
    layer, weights = make_layer(rng, attention_type=attention_type)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    expected, _ = reference.self_attention(x, weights, attention_type)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


@pytest.mark.parametrize("attention_type", ["additive", "multiplicative"])
def test_parity_with_attention_mask(attention_type):
    rng = np.random.default_rng(6)
    layer, weights = make_layer(rng, attention_type=attention_type, attention_width=3)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    mask = padding_mask([5, 4], 5)
    attention_mask = rng.random((2, 5, 5)) < 0.7
    attention_mask[0, 2] = False  # a real query with nothing to attend to
    expected, expected_scores = reference.self_attention(
        x, weights, attention_type, attention_width=3, mask=mask, attention_mask=attention_mask
    )
    for return_scores in (False, True):
        result = layer(
            x, mask=mask, attention_mask=attention_mask, return_attention_scores=return_scores
        )
        if return_scores:
            np.testing.assert_allclose(to_numpy(result[1]), expected_scores, atol=FLOAT32_ATOL)
            result = result[0]
        np.testing.assert_allclose(to_numpy(result), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)
    np.testing.assert_array_equal(to_numpy(result)[0, 2], 0.0)


@pytest.mark.parametrize("kwargs", [{}, {"causal": True}, {"attention_width": 3}])
def test_fused_and_explicit_paths_agree(kwargs):
    # Multiplicative without an activation runs the fused kernel; asking for
    # the scores takes the explicit path. Both must give the same outputs.
    rng = np.random.default_rng(7)
    layer, _ = make_layer(rng, attention_type="multiplicative", **kwargs)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    mask = padding_mask([5, 2], 5)
    with mock.patch.object(
        functional, "fused_attention", wraps=functional.fused_attention
    ) as fused:
        fused_outputs = layer(x, mask=mask)
        fused_calls = fused.call_count
        explicit_outputs, _ = layer(x, mask=mask, return_attention_scores=True)
    assert fused_calls == 1, "the multiplicative layer did not use the fused kernel"
    assert fused.call_count == 1, "return_attention_scores=True should not use the fused kernel"
    np.testing.assert_allclose(
        to_numpy(fused_outputs), to_numpy(explicit_outputs), atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL
    )


def test_attention_regularizer_loss_value():
    # weight * sum((A A^T - I)^2) / B, padded query rows left out of I (their
    # weights are all zero, so they contribute nothing).
    rng = np.random.default_rng(8)
    layer, weights = make_layer(rng, attention_regularizer_weight=0.3)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    mask = padding_mask([5, 3], 5)
    layer(x, mask=mask)
    _, a = reference.self_attention(x, weights, "additive", mask=mask)
    identity = np.eye(5)[None] * mask[:, :, None]
    expected = 0.3 * np.sum((a @ a.transpose(0, 2, 1) - identity) ** 2) / 2
    assert len(layer.losses) == 1
    np.testing.assert_allclose(to_numpy(layer.losses[0]), expected, rtol=1e-5)


# Padding and causality properties.

CONFIGS = st.fixed_dictionaries(
    {
        "attention_type": st.sampled_from(["additive", "multiplicative"]),
        "attention_width": st.sampled_from(WIDTHS),
        "causal": st.booleans(),
        "attention_activation": st.sampled_from([None, "sigmoid"]),
    }
)


@settings(max_examples=12, deadline=None)
@given(
    config=CONFIGS,
    length=st.integers(1, 4),
    return_scores=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_padding_never_changes_real_positions(config, length, return_scores, seed):
    # The sequence is padded to 5 with garbage flagged by the mask (a fixed
    # padded shape keeps the number of distinct shapes small).
    rng = np.random.default_rng(seed)
    layer, _ = make_layer(rng, input_shape=(1, None, 3), **config)
    x = rng.normal(size=(1, length, 3)).astype("float32")
    garbage = (rng.normal(size=(1, 5 - length, 3)) * 10).astype("float32")
    padded = np.concatenate([x, garbage], axis=1)
    mask = padding_mask([length], 5)
    expected = layer(x, return_attention_scores=return_scores)
    actual = layer(padded, mask=mask, return_attention_scores=return_scores)
    if return_scores:
        (expected, expected_scores), (actual, scores) = expected, actual
        scores = to_numpy(scores)
        np.testing.assert_allclose(
            scores[:, :length, :length], to_numpy(expected_scores), atol=1e-6, rtol=1e-5
        )
        np.testing.assert_array_equal(scores[:, :, length:], 0.0)  # padded keys
        np.testing.assert_array_equal(scores[:, length:], 0.0)  # padded queries
    actual = to_numpy(actual)
    np.testing.assert_allclose(actual[:, :length], to_numpy(expected), atol=1e-6, rtol=1e-5)
    np.testing.assert_array_equal(actual[:, length:], 0.0)


@settings(max_examples=15, deadline=None)
@given(
    attention_type=st.sampled_from(["additive", "multiplicative"]),
    width=st.sampled_from(WIDTHS),
    activation=st.sampled_from([None, "sigmoid"]),
    time=st.integers(0, 4),
    seed=st.integers(0, 2**16),
)
def test_future_never_changes_the_past(attention_type, width, activation, time, seed):
    rng = np.random.default_rng(seed)
    layer, _ = make_layer(
        rng,
        input_shape=(1, 5, 3),
        attention_type=attention_type,
        attention_width=width,
        causal=True,
        attention_activation=activation,
    )
    x = rng.normal(size=(1, 5, 3)).astype("float32")
    changed = x.copy()
    changed[:, time + 1 :] = rng.normal(size=changed[:, time + 1 :].shape) * 10
    before = to_numpy(layer(x))[:, : time + 1]
    after = to_numpy(layer(changed))[:, : time + 1]
    np.testing.assert_allclose(after, before, atol=1e-6, rtol=1e-6)


# The keras-self-attention bug (real tokens attending to padding) is gone.


@pytest.mark.parametrize("attention_type", ["additive", "multiplicative"])
def test_real_queries_give_padded_keys_exactly_zero_weight(attention_type):
    inputs = keras.Input((None,), dtype="int32")
    embedding = keras.layers.Embedding(6, 3, mask_zero=True)
    layer = SelfAttention(units=4, attention_type=attention_type)
    outputs, scores = layer(embedding(inputs), return_attention_scores=True)
    model = keras.Model(inputs, [outputs, scores])
    ids = np.array([[1, 2, 3, 0, 0], [4, 5, 1, 2, 0]], "int32")
    real = ids != 0
    outputs, scores = (to_numpy(t) for t in model(ids))
    np.testing.assert_array_equal(scores[real[:, :, None] & ~real[:, None, :]], 0.0)
    np.testing.assert_allclose(scores.sum(-1)[real], 1.0, atol=1e-6)
    # The padding row of the embedding is padded content: changing it must
    # not change any real output (keras-self-attention's did).
    table = embedding.get_weights()[0]
    table[0] = [50.0, -30.0, 20.0]
    embedding.set_weights([table])
    changed, changed_scores = (to_numpy(t) for t in model(ids))
    np.testing.assert_allclose(changed[real], outputs[real], atol=1e-6)
    np.testing.assert_allclose(changed_scores, scores, atol=1e-6)
    np.testing.assert_array_equal(changed[~real], 0.0)


def test_keras_mask_is_kept_when_an_attention_mask_is_given():
    inputs = keras.Input((None,), dtype="int32")
    attention_mask = keras.Input((None, None), dtype="bool")
    x = keras.layers.Embedding(6, 3, mask_zero=True)(inputs)
    _, scores = SelfAttention(units=4)(
        x, attention_mask=attention_mask, return_attention_scores=True
    )
    model = keras.Model([inputs, attention_mask], scores)
    ids = np.array([[1, 2, 3, 0]], "int32")
    scores = to_numpy(model([ids, np.ones((1, 4, 4), bool)]))
    np.testing.assert_array_equal(scores[0, :, 3], 0.0)  # padded key
    np.testing.assert_array_equal(scores[0, 3], 0.0)  # padded query


# Nothing to attend to: exact zeros, never NaN.


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize(
    "kwargs, return_scores",
    [
        ({"attention_type": "multiplicative", "causal": True, "attention_width": 2}, False),
        ({"attention_activation": "sigmoid"}, True),
    ],
    ids=["fused", "explicit"],
)
def test_nothing_to_attend_to_gives_zeros(dtype, kwargs, return_scores):
    rng = np.random.default_rng(9)
    layer = SelfAttention(units=4, dtype=dtype, **kwargs)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    mask = padding_mask([0, 3], 5)  # batch 0 entirely padded, batch 1 from position 3
    attention_mask = np.ones((2, 5, 5), bool)
    attention_mask[1, 1] = False  # a real query with no key allowed
    result = layer(
        x, mask=mask, attention_mask=attention_mask, return_attention_scores=return_scores
    )
    outputs = to_numpy(keras.ops.cast(result[0] if return_scores else result, "float32"))
    assert np.all(np.isfinite(outputs)), f"non-finite outputs in {dtype}"
    np.testing.assert_array_equal(outputs[0], 0.0)
    np.testing.assert_array_equal(outputs[1, 1], 0.0)
    np.testing.assert_array_equal(outputs[1, 3:], 0.0)
    assert np.all(np.abs(outputs[1, [0, 2]]).sum(-1) > 0)
    if return_scores:
        scores = to_numpy(keras.ops.cast(result[1], "float32"))
        assert np.all(np.isfinite(scores))
        np.testing.assert_array_equal(scores[0], 0.0)
        np.testing.assert_array_equal(scores[1, 1], 0.0)
        np.testing.assert_array_equal(scores[1, 3:], 0.0)
        np.testing.assert_allclose(scores[1, [0, 2]].sum(-1), 1.0, atol=1e-2)


# Gradients against finite differences.

GRADIENT_CASES = [
    pytest.param({"attention_activation": "sigmoid", "attention_width": 2}, False, id="additive"),
    pytest.param(
        {"attention_type": "multiplicative"},
        False,
        id="multiplicative",
    ),
    pytest.param(
        {"attention_type": "multiplicative", "causal": True},
        True,
        id="multiplicative-causal-scores",
    ),
]


def gradient_case(kwargs, dtype="float64", seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1, 3, 2))  # B=1, T=3, D=2
    layer = SelfAttention(units=2, dtype=dtype, **kwargs)
    layer.build((1, 3, 2))
    weights = set_random_weights(layer, rng)

    def expected(v):
        return reference.self_attention(
            v,
            weights,
            layer.attention_type,
            attention_width=layer.attention_width,
            causal=layer.causal,
            activation=sigmoid if "attention_activation" in kwargs else None,
        )[0]

    return layer, x, expected


@pytest.mark.parametrize("kwargs, return_scores", GRADIENT_CASES)
def test_gradient_matches_finite_differences(kwargs, return_scores):
    with float64_enabled():
        layer, x, expected = gradient_case(kwargs)

        def fn(v):
            result = layer(v, return_attention_scores=return_scores)
            return result[0] if return_scores else result

        analytic = input_gradient(fn, x)
        numeric = finite_difference_gradient(fn, x, eps=FD_EPS)
    assert analytic.dtype == np.float64
    assert np.abs(analytic).max() > 1e-3
    np.testing.assert_allclose(analytic, numeric, **FD_TOLERANCE)
    np.testing.assert_allclose(
        analytic, finite_difference_gradient(expected, x), **REFERENCE_TOLERANCE
    )


def test_fused_kernel_gradient_matches_reference_in_float32():
    # The fused kernel serves float32 (not float64): its gradient against
    # differences of the float64 reference, at float32 tolerance.
    layer, x, expected = gradient_case({"attention_type": "multiplicative"}, dtype="float32")
    x = x.astype("float32")
    with mock.patch.object(
        functional, "fused_attention", wraps=functional.fused_attention
    ) as fused:
        analytic = input_gradient(layer, x)
    assert fused.call_count == 1
    assert np.abs(analytic).max() > 1e-3
    np.testing.assert_allclose(
        analytic, finite_difference_gradient(expected, x), rtol=1e-4, atol=1e-5
    )


# Bad arguments and inputs.


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"attention_width": 0}, r"attention_width.*attention_width=0\b"),
        ({"attention_width": -1}, r"attention_width.*attention_width=-1\b"),
        ({"attention_width": 1.5}, r"attention_width.*attention_width=1\.5"),
        ({"attention_width": True}, r"attention_width.*attention_width=True"),
        ({"attention_type": "dot"}, r"attention_type.*attention_type='dot'"),
        ({"units": 0}, r"units.*units=0\b"),
        ({"attention_regularizer_weight": -0.5}, r"attention_regularizer_weight=-0\.5"),
    ],
)
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        SelfAttention(**kwargs)


@pytest.mark.parametrize("shape", [(2, 4), (2, 4, 3, 2, 1)])
def test_bad_input_rank(shape):
    with pytest.raises(ValueError, match=r"`inputs` of rank 3.*" + re.escape(str(shape))):
        SelfAttention()(np.zeros(shape, "float32"))


def test_unknown_feature_size():
    with pytest.raises(ValueError, match=r"feature size.*\(None, None, None\)"):
        SelfAttention().build((None, None, None))


def test_bad_mask_shape():
    x = np.zeros((2, 4, 3), "float32")
    with pytest.raises(ValueError, match=r"`mask` of shape \(2, 5\).*\(2, 4\)"):
        SelfAttention()(x, mask=np.ones((2, 5), bool))
    with pytest.raises(ValueError, match=r"`attention_mask` of shape \(2, 4, 5\).*\(2, 4, 4\)"):
        SelfAttention()(x, attention_mask=np.ones((2, 4, 5), bool))
    with pytest.raises(ValueError, match=r"`attention_mask` of shape \(2, 4\)"):
        SelfAttention()(x, attention_mask=np.ones((2, 4), bool))
