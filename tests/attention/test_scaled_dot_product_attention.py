"""`ScaledDotProductAttention`: harness, golden values, NumPy parity (rank 3
and rank 4), masks, causality, dropout, precision, saving, gradients and
argument checks.

Letters: B batch, T query length, S key length, N heads, H query/key width,
V value width.
"""

import re
from unittest import mock

import keras
import numpy as np
import pytest
from absl.testing import parameterized
from hypothesis import given, settings
from hypothesis import strategies as st

from kerastack.attention import ScaledDotProductAttention, functional
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


def random_qkv(rng, batch=2, query_length=4, key_length=5, heads=None, width=3, value_width=None):
    """Float32 `(B, T[, N], H)` query and `(B, S[, N], H|V)` key and value."""
    middle = () if heads is None else (heads,)
    q = rng.normal(size=(batch, query_length, *middle, width))
    k = rng.normal(size=(batch, key_length, *middle, width))
    v = rng.normal(size=(batch, key_length, *middle, value_width or width))
    return tuple(a.astype("float32") for a in (q, k, v))


def expected_allowed(shape, heads, query_mask, key_mask, value_mask, attention_mask, causal):
    """The reference's `(B, T, S)` (or `(B, N|1, T, S)`) mask, built from the
    definitions: padded queries and keys, the explicit mask, causality."""
    _, query_length, key_length = shape
    allowed = np.ones(shape, bool)
    if query_mask is not None:
        allowed &= query_mask[:, :, None]
    for mask in (key_mask, value_mask):
        if mask is not None:
            allowed &= mask[:, None, :]
    if causal:
        allowed &= np.tril(np.ones((query_length, key_length), bool))
    if heads is not None:
        allowed = allowed[:, None]
    if attention_mask is not None:
        allowed = allowed & attention_mask
    return allowed


class ScaledDotProductAttentionLayerTest(TestCase):
    # The harness's training step calls the layer on one structure, which a
    # layer taking `query` and `value` cannot accept: run_training_check=False
    # (Keras's own attention layer tests do the same).
    @parameterized.named_parameters(
        ("rank3", {}, {"query_shape": (2, 4, 3), "value_shape": (2, 5, 3)}, (2, 4, 3), 0),
        (
            "rank4",
            {"causal": True},
            {"query_shape": (2, 5, 2, 3), "value_shape": (2, 5, 2, 3)},
            (2, 5, 2, 3),
            0,
        ),
        (
            "rank3_key_and_wider_value",
            {"scale": 0.5},
            {"query_shape": (2, 4, 3), "value_shape": (2, 5, 6), "key_shape": (2, 5, 3)},
            (2, 4, 6),
            0,
        ),
        (
            "rank4_dropout",
            {"dropout": 0.5, "seed": 1},
            {"query_shape": (2, 4, 2, 3), "value_shape": (2, 5, 2, 3)},
            (2, 4, 2, 3),
            1,
        ),
    )
    def test_layer(self, kwargs, input_shape, output_shape, num_seed_generators):
        self.run_layer_test(
            ScaledDotProductAttention,
            init_kwargs=kwargs,
            input_shape=input_shape,
            expected_output_shape=output_shape,
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=num_seed_generators,
            expected_num_losses=0,
            supports_masking=True,
            run_training_check=False,
        )

    def test_layer_returning_scores(self):
        self.run_layer_test(
            ScaledDotProductAttention,
            init_kwargs={},
            input_shape={"query_shape": (2, 4, 2, 3), "value_shape": (2, 5, 2, 3)},
            call_kwargs={"return_attention_scores": True},
            expected_output_shape=((2, 4, 2, 3), (2, 2, 4, 5)),
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
            run_training_check=False,
        )

    def test_config_round_trip(self):
        layer = ScaledDotProductAttention(dropout=0.25, causal=True, scale=0.3, seed=7)
        restored = ScaledDotProductAttention.from_config(layer.get_config())
        self.assertEqual(restored.get_config(), layer.get_config())
        self.assertEqual(
            (restored.dropout, restored.causal, restored.scale, restored.seed), (0.25, True, 0.3, 7)
        )

    @parameterized.named_parameters(
        ("plain", {}), ("causal_scaled", {"causal": True, "scale": 0.7})
    )
    def test_save_load(self, kwargs):
        inputs = keras.Input((None,), dtype="int32")
        x = keras.layers.Embedding(8, 4, mask_zero=True)(inputs)
        x = ScaledDotProductAttention(name="attention", **kwargs)(x, x)
        outputs = keras.layers.Dense(2)(x)
        model = keras.Model(inputs, outputs)
        ids = np.array([[1, 2, 3, 4, 0, 0], [5, 6, 7, 1, 2, 3]], "int32")
        restored = self.run_save_load_check(model, ids)
        self.assertIsInstance(restored.get_layer("attention"), ScaledDotProductAttention)
        self.assertEqual(
            restored.get_layer("attention").get_config(), model.get_layer("attention").get_config()
        )

    @parameterized.named_parameters(
        ("rank3_fused", None, {}),
        ("rank3_scores", None, {"return_attention_scores": True}),
        ("rank4_fused_causal", 2, {"use_causal_mask": True}),
        ("rank4_scores", 2, {"return_attention_scores": True}),
    )
    def test_precision(self, heads, call_kwargs):
        rng = np.random.default_rng(0)
        q, k, v = random_qkv(rng, query_length=5, heads=heads)
        masks = {"query_mask": padding_mask([5, 3], 5), "value_mask": padding_mask([5, 2], 5)}

        def make(policy):
            return ScaledDotProductAttention(dtype=policy)

        self.run_precision_check(make, (q, v), {"key": k, **masks, **call_kwargs})


# Golden values.


@pytest.mark.parametrize("return_scores", [False, True])  # fused and explicit paths
def test_golden_one_hot(return_scores):
    # q = k = one-hot, v = [[1, 2], [3, 4]]: see tests/goldens.py.
    q, v = goldens.ONE_HOT, goldens.SDPA_VALUE
    result = ScaledDotProductAttention()(q, v, key=q, return_attention_scores=return_scores)
    if return_scores:
        np.testing.assert_allclose(to_numpy(result[1])[0], goldens.SDPA_WEIGHTS, atol=1e-6)
        result = result[0]
    np.testing.assert_allclose(to_numpy(result)[0], goldens.SDPA_OUTPUTS, atol=1e-6)


def test_golden_keras_self_attention_sample():
    # keras-self-attention's test_sample for ScaledDotProductAttention: the
    # published output row for id 3, and ids 1 at positions 0 and 3 give equal
    # rows. Here through the modern layer, query = key = value = embedded.
    inputs = keras.Input((None,), dtype="int32")
    embedding = keras.layers.Embedding(4, 5, mask_zero=True, trainable=False)
    x = embedding(inputs)
    model = keras.Model(inputs, ScaledDotProductAttention()(x, x))
    embedding.set_weights([goldens.SAMPLE_TABLE])
    outputs = to_numpy(model(goldens.SAMPLE_IDS))[0]
    np.testing.assert_allclose(outputs[2], goldens.SAMPLE_ROW_2, atol=1e-6, rtol=0)
    np.testing.assert_allclose(outputs[0], outputs[3], atol=1e-6, rtol=0)
    np.testing.assert_array_equal(outputs[4], 0.0)  # the padded query


# Parity with tests/reference.py.


PARITY_CASES = [
    pytest.param(
        heads,
        masks,
        causal,
        id=f"{'rank3' if heads is None else 'rank4'}-{masks}{'-causal' if causal else ''}",
    )
    for heads in (None, 2)
    for masks in ("none", "query", "key", "value", "all", "attention")
    for causal in (False, True)
]


@pytest.mark.parametrize("heads, masks, causal", PARITY_CASES)
def test_parity_with_reference(heads, masks, causal):
    rng = np.random.default_rng(1)
    q, k, v = random_qkv(rng, query_length=5, key_length=5, heads=heads)
    query_mask = padding_mask([5, 3], 5) if masks in ("query", "all") else None
    key_mask = padding_mask([4, 2], 5) if masks in ("key", "all") else None
    value_mask = padding_mask([5, 3], 5) if masks in ("value", "all") else None
    attention_mask = None
    if masks == "attention":
        shape = (2, 5, 5) if heads is None else (2, 2, 5, 5)
        attention_mask = rng.random(shape) < 0.6
        attention_mask[..., 1, :] = False  # queries with nothing to attend to
    expected_mask = expected_allowed(
        (2, 5, 5), heads, query_mask, key_mask, value_mask, attention_mask, causal
    )
    expected, expected_scores = reference.scaled_dot_product_attention(q, k, v, expected_mask)
    layer = ScaledDotProductAttention(causal=causal)
    kwargs = {
        "key": k,
        "query_mask": query_mask,
        "key_mask": key_mask,
        "value_mask": value_mask,
        "attention_mask": attention_mask,
    }
    outputs = layer(q, v, **kwargs)
    explicit, scores = layer(q, v, return_attention_scores=True, **kwargs)
    for actual, wanted in ((outputs, expected), (explicit, expected), (scores, expected_scores)):
        np.testing.assert_allclose(to_numpy(actual), wanted, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


@pytest.mark.parametrize("heads", [None, 2], ids=["rank3", "rank4"])
def test_parity_cross_attention_scale_and_value_width(heads):
    # T != S, an explicit scale, and values wider than queries (explicit path).
    rng = np.random.default_rng(2)
    q, k, v = random_qkv(rng, query_length=3, key_length=6, heads=heads, value_width=4)
    key_mask = padding_mask([6, 4], 6)
    expected_mask = key_mask[:, None, :] if heads is None else key_mask[:, None, None, :]
    expected, expected_scores = reference.scaled_dot_product_attention(
        q, k, v, expected_mask, scale=0.4
    )
    layer = ScaledDotProductAttention(scale=0.4)
    outputs, scores = layer(q, v, key=k, key_mask=key_mask, return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(outputs), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)
    np.testing.assert_allclose(to_numpy(scores), expected_scores, atol=FLOAT32_ATOL)
    np.testing.assert_allclose(
        to_numpy(layer(q, v, key=k, key_mask=key_mask)),
        expected,
        atol=FLOAT32_ATOL,
        rtol=FLOAT32_RTOL,
    )


def test_use_causal_mask_equals_causal():
    rng = np.random.default_rng(3)
    q, k, v = random_qkv(rng, query_length=5, key_length=5)
    expected, _ = reference.scaled_dot_product_attention(q, k, v, np.tril(np.ones((5, 5), bool)))
    by_call = ScaledDotProductAttention()(q, v, key=k, use_causal_mask=True)
    by_layer = ScaledDotProductAttention(causal=True)(q, v, key=k)
    np.testing.assert_allclose(to_numpy(by_call), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)
    np.testing.assert_allclose(to_numpy(by_layer), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


@pytest.mark.parametrize("heads", [None, 2], ids=["rank3", "rank4"])
def test_fused_and_explicit_paths_agree(heads):
    rng = np.random.default_rng(4)
    q, k, v = random_qkv(rng, heads=heads)
    masks = {"query_mask": padding_mask([4, 2], 4), "value_mask": padding_mask([5, 3], 5)}
    layer = ScaledDotProductAttention()
    with mock.patch.object(
        functional, "fused_attention", wraps=functional.fused_attention
    ) as fused:
        fused_outputs = layer(q, v, key=k, **masks)
        fused_calls = fused.call_count
        explicit_outputs, _ = layer(q, v, key=k, return_attention_scores=True, **masks)
    assert fused_calls == 1, "the layer did not use the fused kernel"
    assert fused.call_count == 1, "return_attention_scores=True should not use the fused kernel"
    np.testing.assert_allclose(
        to_numpy(fused_outputs), to_numpy(explicit_outputs), atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL
    )


def test_causal_without_masks_returning_scores():
    rng = np.random.default_rng(5)
    q, k, v = random_qkv(rng, query_length=4, key_length=4)
    expected, expected_scores = reference.scaled_dot_product_attention(
        q, k, v, np.tril(np.ones((4, 4), bool))
    )
    outputs, scores = ScaledDotProductAttention(causal=True)(
        q, v, key=k, return_attention_scores=True
    )
    np.testing.assert_allclose(to_numpy(scores), expected_scores, atol=FLOAT32_ATOL)
    np.testing.assert_allclose(to_numpy(outputs), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


def test_causal_without_masks_and_wider_values():
    rng = np.random.default_rng(6)
    q, k, v = random_qkv(rng, query_length=4, key_length=4, value_width=5)
    expected, _ = reference.scaled_dot_product_attention(q, k, v, np.tril(np.ones((4, 4), bool)))
    outputs = ScaledDotProductAttention()(q, v, key=k, use_causal_mask=True)
    np.testing.assert_allclose(to_numpy(outputs), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


def test_causal_without_masks_in_training_with_dropout():
    # Causal, query 0 sees only key 0 with weight 1; dropout at rate 1/2 keeps
    # it (output 2 v0) or drops it (output 0), whatever the random draw.
    rng = np.random.default_rng(12)
    q, k, v = random_qkv(rng, batch=4, query_length=4, key_length=4)
    outputs = ScaledDotProductAttention(dropout=0.5, causal=True, seed=2)(
        q, v, key=k, training=True
    )
    first = to_numpy(outputs)[:, 0]
    for row, value in zip(first, v[:, 0], strict=True):
        assert np.allclose(row, 0.0) or np.allclose(row, 2 * value, atol=1e-5), row


# Padding and causality properties.


@settings(max_examples=12, deadline=None)
@given(
    heads=st.sampled_from([None, 2]),
    query_length=st.integers(1, 3),
    key_length=st.integers(1, 3),
    return_scores=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_padding_never_changes_real_positions(heads, query_length, key_length, return_scores, seed):
    # Queries padded to 4 and keys to 4 with garbage flagged by the masks
    # (fixed padded shapes keep the number of distinct shapes small).
    rng = np.random.default_rng(seed)
    q, k, v = random_qkv(
        rng, batch=1, query_length=query_length, key_length=key_length, heads=heads
    )
    layer = ScaledDotProductAttention()
    expected = layer(q, v, key=k, return_attention_scores=return_scores)

    def pad(x, total):
        garbage = rng.normal(size=(1, total - x.shape[1], *x.shape[2:])) * 10
        return np.concatenate([x, garbage.astype("float32")], axis=1)

    actual = layer(
        pad(q, 4),
        pad(v, 4),
        key=pad(k, 4),
        query_mask=padding_mask([query_length], 4),
        value_mask=padding_mask([key_length], 4),
        key_mask=padding_mask([key_length], 4),
        return_attention_scores=return_scores,
    )
    if return_scores:
        (expected, expected_scores), (actual, scores) = expected, actual
        scores = to_numpy(scores)
        np.testing.assert_allclose(
            scores[..., :query_length, :key_length], to_numpy(expected_scores), atol=1e-6
        )
        np.testing.assert_array_equal(scores[..., key_length:], 0.0)
        np.testing.assert_array_equal(scores[..., query_length:, :], 0.0)
    actual = to_numpy(actual)
    np.testing.assert_allclose(actual[:, :query_length], to_numpy(expected), atol=1e-6, rtol=1e-5)
    np.testing.assert_array_equal(actual[:, query_length:], 0.0)


@settings(max_examples=15, deadline=None)
@given(
    heads=st.sampled_from([None, 2]),
    by_call=st.booleans(),
    with_mask=st.booleans(),
    time=st.integers(0, 4),
    seed=st.integers(0, 2**16),
)
def test_future_never_changes_the_past(heads, by_call, with_mask, time, seed):
    # With and without a (here all-True) key mask: without one, causality is
    # left to the fused kernel's is_causal.
    rng = np.random.default_rng(seed)
    q, k, v = random_qkv(rng, batch=1, query_length=6, key_length=6, heads=heads)
    layer = ScaledDotProductAttention(causal=not by_call)
    kwargs = {"use_causal_mask": by_call}
    if with_mask:
        kwargs["value_mask"] = np.ones((1, 6), bool)

    def future_changed(x):
        x = x.copy()
        x[:, time + 1 :] = rng.normal(size=x[:, time + 1 :].shape) * 10
        return x

    before = to_numpy(layer(q, v, key=k, **kwargs))[:, : time + 1]
    after = layer(future_changed(q), future_changed(v), key=future_changed(k), **kwargs)
    np.testing.assert_allclose(to_numpy(after)[:, : time + 1], before, atol=1e-6, rtol=1e-6)


# keras-self-attention's bug (real queries attending to padding) is gone.


def test_real_queries_give_padded_keys_exactly_zero_weight():
    inputs = keras.Input((None,), dtype="int32")
    embedding = keras.layers.Embedding(6, 3, mask_zero=True)
    x = embedding(inputs)
    outputs, scores = ScaledDotProductAttention()(x, x, return_attention_scores=True)
    model = keras.Model(inputs, [outputs, scores])
    ids = np.array([[1, 2, 3, 0, 0], [4, 5, 1, 2, 0]], "int32")
    real = ids != 0
    outputs, scores = (to_numpy(t) for t in model(ids))
    np.testing.assert_array_equal(scores[real[:, :, None] & ~real[:, None, :]], 0.0)
    np.testing.assert_allclose(scores.sum(-1)[real], 1.0, atol=1e-6)
    table = embedding.get_weights()[0]
    table[0] = [50.0, -30.0, 20.0]
    embedding.set_weights([table])
    changed = to_numpy(model(ids)[0])
    np.testing.assert_allclose(changed[real], outputs[real], atol=1e-6)
    np.testing.assert_array_equal(changed[~real], 0.0)


# Nothing to attend to: exact zeros, never NaN.


@pytest.mark.parametrize(
    "dtype, heads",
    [("float32", None), ("float16", 2), ("bfloat16", None)],
    ids=["float32", "float16-rank4", "bfloat16"],
)
@pytest.mark.parametrize("return_scores", [False, True], ids=["fused", "explicit"])
def test_nothing_to_attend_to_gives_zeros(dtype, heads, return_scores):
    rng = np.random.default_rng(7)
    q, k, v = random_qkv(rng, heads=heads)
    query_mask = padding_mask([4, 2], 4)  # batch 1: queries 2, 3 padded
    value_mask = padding_mask([0, 5], 5)  # batch 0: every key padded
    attention_mask = np.ones((2, 4, 5), bool)
    attention_mask[1, 1] = False  # batch 1: a real query with no key allowed
    result = ScaledDotProductAttention(dtype=dtype)(
        q,
        v,
        key=k,
        query_mask=query_mask,
        value_mask=value_mask,
        attention_mask=attention_mask,
        return_attention_scores=return_scores,
    )
    outputs = to_numpy(keras.ops.cast(result[0] if return_scores else result, "float32"))
    assert np.all(np.isfinite(outputs)), f"non-finite outputs in {dtype}"
    np.testing.assert_array_equal(outputs[0], 0.0)
    np.testing.assert_array_equal(outputs[1, 1:], 0.0)
    assert np.all(np.abs(outputs[1, 0]) > 0)
    if return_scores:
        scores = to_numpy(keras.ops.cast(result[1], "float32"))
        assert np.all(np.isfinite(scores))
        np.testing.assert_array_equal(scores[0], 0.0)
        np.testing.assert_array_equal(scores[1, ..., 1:, :], 0.0)
        np.testing.assert_allclose(scores[1, ..., 0, :].sum(-1), 1.0, atol=1e-2)


# Dropout.


def test_dropout():
    rng = np.random.default_rng(8)
    q, k, v = random_qkv(rng)
    masks = {"query_mask": padding_mask([4, 3], 4), "value_mask": padding_mask([5, 2], 5)}
    plain = ScaledDotProductAttention()(q, v, key=k, **masks)
    layer = ScaledDotProductAttention(dropout=0.5, seed=3)
    np.testing.assert_allclose(
        to_numpy(layer(q, v, key=k, training=False, **masks)), to_numpy(plain), atol=1e-6
    )
    np.testing.assert_allclose(to_numpy(layer(q, v, key=k, **masks)), to_numpy(plain), atol=1e-6)
    trained, weights = layer(q, v, key=k, training=True, return_attention_scores=True, **masks)
    trained = to_numpy(trained)
    assert np.abs(trained - to_numpy(plain)).max() > 1e-3, "dropout changed nothing"
    assert np.all(np.isfinite(trained))
    np.testing.assert_array_equal(trained[1, 3], 0.0)  # padded query stays zero
    # The returned weights are the attention distribution: rows with a key
    # sum to one, padded query rows to zero.
    sums = to_numpy(weights).sum(-1)
    np.testing.assert_allclose(sums, padding_mask([4, 3], 4).astype("float32"), atol=1e-6)


def test_dropout_applies_to_the_weights():
    # q = k = 0 gives uniform weights 1/16 over 16 keys; with v = 1 and rate
    # 1/2 each output is (kept weights) / (1 - 1/2), a multiple of 1/8 in
    # [0, 2], with mean 1 in expectation (std of the mean of 128 rows ~0.02).
    q = np.zeros((8, 16, 3), "float32")
    v = np.ones((8, 16, 3), "float32")
    outputs = to_numpy(ScaledDotProductAttention(dropout=0.5, seed=1)(q, v, training=True))
    np.testing.assert_allclose(outputs * 8, np.round(outputs * 8), atol=1e-4)
    np.testing.assert_allclose(outputs[..., 0], outputs[..., 1])  # one weight per key
    assert np.any(np.abs(outputs - 1.0) > 0.1)
    assert abs(outputs.mean() - 1.0) < 0.1


# Gradients against finite differences, in float64.


def gradient_case(causal, dtype="float64", seed=10):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1, 3, 2))  # B=1, T=3, H=2; x is query, key and value
    layer = ScaledDotProductAttention(causal=causal, dtype=dtype)
    causal_mask = np.tril(np.ones((3, 3), bool)) if causal else None
    return layer, x, lambda v: reference.scaled_dot_product_attention(v, v, v, causal_mask)[0]


@pytest.mark.parametrize(
    "causal, return_scores",
    [(False, False), (True, False), (True, True)],
    ids=["fused", "fused-causal", "explicit-causal"],
)
def test_gradient_matches_finite_differences(causal, return_scores):
    # x is query, key and value at once.
    with float64_enabled():
        layer, x, expected = gradient_case(causal)

        def fn(v):
            result = layer(v, v, return_attention_scores=return_scores)
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
    # The fused kernel serves float32 (not float64): its gradient, here
    # causal, against differences of the float64 reference, at float32
    # tolerance.
    layer, x, expected = gradient_case(True, dtype="float32")
    x = x.astype("float32")
    with mock.patch.object(
        functional, "fused_attention", wraps=functional.fused_attention
    ) as fused:
        analytic = input_gradient(lambda v: layer(v, v), x)
    assert fused.call_count == 1
    assert np.abs(analytic).max() > 1e-3
    np.testing.assert_allclose(
        analytic, finite_difference_gradient(expected, x), rtol=1e-4, atol=1e-5
    )


# Bad arguments and inputs.


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"dropout": -0.1}, r"`dropout`.*dropout=-0\.1"),
        ({"dropout": 1.0}, r"`dropout`.*dropout=1\.0"),
        ({"dropout": 1.5}, r"`dropout`.*dropout=1\.5"),
        ({"scale": 0.0}, r"`scale`.*scale=0\.0"),
        ({"scale": -2.0}, r"`scale`.*scale=-2\.0"),
    ],
)
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        ScaledDotProductAttention(**kwargs)


@pytest.mark.parametrize("shape", [(2, 4), (2, 4, 2, 3, 1)])
@pytest.mark.parametrize("argument", ["query", "value", "key"])
def test_bad_input_rank(shape, argument):
    good = np.zeros((2, 4, 3), "float32")
    inputs = {"query": good, "value": good, "key": good, argument: np.zeros(shape, "float32")}
    pattern = rf"`{argument}` of rank 3 or 4.*" + re.escape(str(shape))
    with pytest.raises(ValueError, match=pattern):
        ScaledDotProductAttention()(inputs["query"], inputs["value"], key=inputs["key"])


@pytest.mark.parametrize(
    "shapes, pattern",
    [
        (((2, 4, 3), (2, 5, 3), (2, 5, 4)), r"`query` and `key`.*width 3.*width 4"),
        (((2, 4, 3), (2, 5, 3), None), None),  # fine: key defaults to value
        (((2, 4, 3), (2, 6, 3), (2, 5, 3)), r"`key` and `value`.*length 5.*length 6"),
        (((2, 4, 3), (2, 5, 2, 3), None), r"one rank.*query=\(2, 4, 3\).*value=\(2, 5, 2, 3\)"),
        (((2, 4, 2, 3), (2, 5, 3, 3), None), r"number of heads.*`query` and `key`.*2 and 3"),
    ],
)
def test_bad_input_shapes(shapes, pattern):
    query, value, key = (None if s is None else np.zeros(s, "float32") for s in shapes)
    layer = ScaledDotProductAttention()
    if pattern is None:
        assert tuple(layer(query, value, key=key).shape) == (2, 4, 3)
        return
    with pytest.raises(ValueError, match=pattern):
        layer(query, value, key=key)


@pytest.mark.parametrize(
    "masks, pattern",
    [
        ({"query_mask": np.ones((2, 5), bool)}, r"`query_mask` of shape \(2, 5\).*\(2, 4\)"),
        ({"value_mask": np.ones((2, 4), bool)}, r"`value_mask` of shape \(2, 4\).*\(2, 5\)"),
        ({"key_mask": np.ones((2, 6), bool)}, r"`key_mask` of shape \(2, 6\).*\(2, 5\)"),
        (
            {"attention_mask": np.ones((2, 5, 4), bool)},
            r"`attention_mask` of shape \(2, 5, 4\).*\(2, 4, 5\)",
        ),
        (
            {"attention_mask": np.ones((2, 3, 4, 5), bool)},
            r"`attention_mask` of shape \(2, 3, 4, 5\).*\(2, 1, 4, 5\)",
        ),
    ],
)
def test_bad_mask_shapes(masks, pattern):
    q, k, v = random_qkv(np.random.default_rng(11))
    with pytest.raises(ValueError, match=pattern):
        ScaledDotProductAttention()(q, v, key=k, **masks)
