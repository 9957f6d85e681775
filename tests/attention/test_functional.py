"""`kerastack.attention.functional`: the masking helpers against NumPy.

Letters: B batch, T query length, S key length, N heads, H head size.
"""

import keras
import numpy as np
import pytest

from kerastack.attention import functional
from tests import reference
from tests.testing import FLOAT32_ATOL, FLOAT32_RTOL, input_gradient, to_numpy

HALF_DTYPES = ("float16", "bfloat16")


def assert_close(actual, expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL):
    np.testing.assert_allclose(to_numpy(actual), expected, atol=atol, rtol=rtol)


def random_mask(rng, shape, empty_rows=1):
    """A random boolean mask over the last axis, with `empty_rows` rows that
    allow nothing and every other row allowing at least one entry."""
    mask = rng.random(shape) < 0.6
    flat = mask.reshape(-1, shape[-1])
    flat[np.arange(len(flat)), rng.integers(0, shape[-1], len(flat))] = True
    flat[:empty_rows] = False
    return flat.reshape(shape)


# masked_softmax


def test_masked_softmax_matches_reference():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(2, 3, 4, 5)).astype("float32") * 3
    mask = random_mask(rng, scores.shape, empty_rows=2)
    weights = functional.masked_softmax(keras.ops.convert_to_tensor(scores), mask)
    assert_close(weights, reference.softmax_allowed(scores, mask))


def test_masked_softmax_broadcasts_the_mask():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(2, 3, 4)).astype("float32")
    key_mask = np.array([[True, True, False, True], [False, False, False, False]])
    weights = functional.masked_softmax(keras.ops.convert_to_tensor(scores), key_mask[:, None, :])
    assert_close(weights, reference.softmax_allowed(scores, key_mask[:, None, :]))
    # Batch 1 allows nothing: its weights are exactly zero.
    np.testing.assert_array_equal(to_numpy(weights)[1], 0.0)


def test_masked_softmax_without_mask_is_softmax():
    rng = np.random.default_rng(2)
    scores = rng.normal(size=(3, 6)).astype("float32") * 4
    weights = functional.masked_softmax(keras.ops.convert_to_tensor(scores))
    assert_close(weights, reference.softmax_allowed(scores))
    assert_close(np.sum(to_numpy(weights), -1), np.ones(3))


def test_masked_softmax_other_axis():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(2, 5, 3)).astype("float32")
    mask = random_mask(rng, (2, 3, 5)).transpose(0, 2, 1)  # allowed along axis 1
    weights = functional.masked_softmax(keras.ops.convert_to_tensor(scores), mask, axis=1)
    expected = reference.softmax_allowed(
        scores.transpose(0, 2, 1), mask.transpose(0, 2, 1)
    ).transpose(0, 2, 1)
    assert_close(weights, expected)


def test_masked_softmax_disallowed_entries_are_exactly_zero_even_when_largest():
    # A masked entry with by far the largest score must get weight 0, not
    # exp(-1e9 + ...) leaking through, and the rest must renormalize.
    scores = np.array([[1000.0, 0.0, 1.0]], "float32")
    mask = np.array([[False, True, True]])
    weights = to_numpy(functional.masked_softmax(keras.ops.convert_to_tensor(scores), mask))
    assert weights[0, 0] == 0.0
    e = np.exp(1.0)
    assert_close(weights[0, 1:], [1 / (1 + e), e / (1 + e)])


@pytest.mark.parametrize("dtype", HALF_DTYPES)
def test_masked_softmax_half_precision(dtype):
    rng = np.random.default_rng(4)
    scores = rng.normal(size=(2, 4, 6)).astype("float32") * 5
    mask = random_mask(rng, scores.shape, empty_rows=2)
    weights = functional.masked_softmax(keras.ops.cast(scores, dtype), mask)
    assert keras.backend.standardize_dtype(weights.dtype) == dtype
    weights = to_numpy(keras.ops.cast(weights, "float32"))
    assert np.all(np.isfinite(weights))
    np.testing.assert_array_equal(weights[~mask], 0.0)
    np.testing.assert_array_equal(weights.reshape(-1, 6)[:2], 0.0)  # empty rows
    # Half-precision scores, normalized in float32: close to the exact result.
    half_scores = to_numpy(keras.ops.cast(keras.ops.cast(scores, dtype), "float32"))
    atol = 5e-3 if dtype == "float16" else 3e-2
    np.testing.assert_allclose(
        weights, reference.softmax_allowed(half_scores, mask), atol=atol, rtol=0
    )


def test_masked_softmax_extreme_float16_scores_do_not_overflow():
    # 60000 is near float16's maximum (65504). Two equal top scores share the
    # weight: [1/2, 1/2, exp(-120000)/... = 0]; the masked one gets exactly 0.
    scores = keras.ops.cast(np.array([[60000.0, 60000.0, -60000.0, 60000.0]]), "float16")
    mask = np.array([[True, True, True, False]])
    weights = to_numpy(keras.ops.cast(functional.masked_softmax(scores, mask), "float32"))
    np.testing.assert_allclose(weights, [[0.5, 0.5, 0.0, 0.0]], atol=1e-3)
    assert weights[0, 3] == 0.0


# causal_mask, window_mask


@pytest.mark.parametrize("query_length, key_length", [(1, 1), (4, 4), (3, 5), (5, 3)])
def test_causal_mask(query_length, key_length):
    expected = np.tril(np.ones((query_length, key_length), bool))  # j <= i
    mask = to_numpy(functional.causal_mask(query_length, key_length))
    np.testing.assert_array_equal(mask.astype(bool), expected)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("width", [1, 2, 3, 4, 7])
def test_window_mask_matches_reference(width, causal):
    mask = to_numpy(functional.window_mask(6, 6, width, causal=causal)).astype(bool)
    np.testing.assert_array_equal(mask, reference.structure_mask(6, width, causal))


def test_window_mask_rectangular():
    # Centred window of width 3 over 4 queries and 6 keys: query i sees
    # keys i-1, i, i+1 (those that exist).
    mask = to_numpy(functional.window_mask(4, 6, 3)).astype(bool)
    expected = np.zeros((4, 6), bool)
    for i in range(4):
        expected[i, max(i - 1, 0) : i + 2] = True
    np.testing.assert_array_equal(mask, expected)


def test_window_mask_width_one_is_the_diagonal():
    for causal in (False, True):
        mask = to_numpy(functional.window_mask(5, 5, 1, causal=causal)).astype(bool)
        np.testing.assert_array_equal(mask, np.eye(5, dtype=bool))


# merge_masks, expand_mask


def test_merge_masks_is_a_broadcast_and():
    a = np.array([[True, False, True]])  # (1, 3)
    b = np.array([[True], [False]])  # (2, 1)
    c = np.array([[1, 1, 0], [1, 1, 1]])  # ints are read as booleans
    merged = to_numpy(functional.merge_masks(a, None, b, c)).astype(bool)
    np.testing.assert_array_equal(merged, a & b & c.astype(bool))


def test_merge_masks_skips_none():
    assert functional.merge_masks() is None
    assert functional.merge_masks(None, None) is None
    a = np.array([True, False, True])
    merged = functional.merge_masks(None, a)
    assert keras.backend.standardize_dtype(merged.dtype) == "bool"
    np.testing.assert_array_equal(to_numpy(merged), a)


def test_expand_mask():
    assert functional.expand_mask(None, (1,)) is None
    mask = np.ones((2, 5), bool)
    assert tuple(functional.expand_mask(mask, (1, 2)).shape) == (2, 1, 1, 5)
    assert tuple(functional.expand_mask(mask, (1, 3)).shape) == (2, 1, 5, 1)
    assert tuple(functional.expand_mask(mask, (2,)).shape) == (2, 5, 1)


# fused_attention


def qkv(rng, batch=2, query_length=4, key_length=5, heads=2, size=3):
    q = rng.normal(size=(batch, query_length, heads, size)).astype("float32")
    k = rng.normal(size=(batch, key_length, heads, size)).astype("float32")
    v = rng.normal(size=(batch, key_length, heads, size)).astype("float32")
    return q, k, v


def test_fused_attention_without_mask_matches_reference():
    q, k, v = qkv(np.random.default_rng(5))
    outputs = functional.fused_attention(q, k, v)
    assert_close(outputs, reference.scaled_dot_product_attention(q, k, v)[0])


@pytest.mark.parametrize("mask_shape", [(2, 2, 4, 5), (2, 1, 4, 5), (2, 1, 1, 5), (2, 1, 4, 1)])
def test_fused_attention_with_mask_matches_reference(mask_shape):
    rng = np.random.default_rng(6)
    q, k, v = qkv(rng)
    mask = rng.random(mask_shape) < 0.6
    mask[0] = False  # batch 0 allows nothing
    outputs = to_numpy(functional.fused_attention(q, k, v, mask=mask))
    expected, _ = reference.scaled_dot_product_attention(q, k, v, mask)
    assert np.all(np.isfinite(outputs))
    np.testing.assert_allclose(outputs, expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)
    np.testing.assert_array_equal(outputs[0], 0.0)


def test_fused_attention_scale():
    q, k, v = qkv(np.random.default_rng(7))
    outputs = functional.fused_attention(q, k, v, scale=0.3)
    assert_close(outputs, reference.scaled_dot_product_attention(q, k, v, scale=0.3)[0])


def test_fused_attention_is_causal_equals_causal_mask():
    q, k, v = qkv(np.random.default_rng(8), key_length=4)
    causal = np.tril(np.ones((4, 4), bool))[None, None]
    expected, _ = reference.scaled_dot_product_attention(q, k, v, causal)
    assert_close(functional.fused_attention(q, k, v, is_causal=True), expected)
    assert_close(functional.fused_attention(q, k, v, mask=causal), expected)


@pytest.mark.parametrize("dtype", HALF_DTYPES)
def test_fused_attention_empty_rows_half_precision(dtype):
    rng = np.random.default_rng(9)
    q, k, v = (keras.ops.cast(a, dtype) for a in qkv(rng))
    mask = np.ones((2, 1, 4, 5), bool)
    mask[0, 0, 1] = False  # query 1 of batch 0 sees nothing
    mask[1] = False  # batch 1 sees nothing
    outputs = functional.fused_attention(q, k, v, mask=mask)
    assert keras.backend.standardize_dtype(outputs.dtype) == dtype
    outputs = to_numpy(keras.ops.cast(outputs, "float32"))
    assert np.all(np.isfinite(outputs))
    np.testing.assert_array_equal(outputs[0, 1], 0.0)
    np.testing.assert_array_equal(outputs[1], 0.0)
    assert np.all(np.abs(outputs[0, 0]) > 0)


def test_fused_attention_empty_rows_are_zero_even_with_overflowing_content():
    q, k, v = qkv(np.random.default_rng(10), batch=1, query_length=3, key_length=3, heads=1)
    q[:, 2] = k[:, 2] = v[:, 2] = 1e20  # a padded position with huge garbage
    mask = np.array([True, True, False])
    allowed = (mask[:, None] & mask[None, :])[None, None]  # (1, 1, T, S)
    outputs = to_numpy(functional.fused_attention(q, k, v, mask=allowed))
    expected, _ = reference.scaled_dot_product_attention(q[:, :2], k[:, :2], v[:, :2])
    np.testing.assert_allclose(outputs[:, :2], expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)
    np.testing.assert_array_equal(outputs[:, 2], 0.0)


# check_rank, check_mask_shape


class _Named:
    pass


def test_check_rank_message_names_argument_and_shape():
    functional.check_rank(_Named(), "query", (2, 3, 4), (3, 4))
    functional.check_rank(_Named(), "query", None, (3,))
    with pytest.raises(ValueError, match=r"_Named expects `query` of rank 3 or 4.*\(2, 3\)"):
        functional.check_rank(_Named(), "query", (2, 3), (3, 4))


def test_check_mask_shape_ignores_unknown_dimensions():
    functional.check_mask_shape(_Named(), "mask", None, (2, 3))
    functional.check_mask_shape(_Named(), "mask", keras.KerasTensor((None, 3)), (2, 3))
    functional.check_mask_shape(_Named(), "mask", np.ones((2, 3)), (None, None))
    with pytest.raises(ValueError, match=r"`mask` of shape \(2, 4\).*\(2, 3\)"):
        functional.check_mask_shape(_Named(), "mask", np.ones((2, 4)), (2, 3))
    with pytest.raises(ValueError, match=r"`mask` of shape \(2, 3, 1\)"):
        functional.check_mask_shape(_Named(), "mask", np.ones((2, 3, 1)), (2, 3))


# fused_attention in blocks (long attention on TensorFlow and JAX's CPU)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 4 queries for 7 keys at batch 2 (one query's scores take
    2 * 7 * 4 = 56 bytes per head), of 2 queries for 8 or 10 keys."""
    monkeypatch.setattr(functional, "CHUNK_ABOVE_BYTES", 0)
    monkeypatch.setattr(functional, "BLOCK_BYTES", 224)
    monkeypatch.setattr(functional, "chunk_long_attention", lambda: True)


def test_query_block_sizes():
    q, k, _ = qkv(np.random.default_rng(0), batch=1, query_length=8192, key_length=8192, heads=12)
    # 4 MiB of float32 scores per block, 8192 keys: 128 queries.
    assert functional._query_block(q, k) == 128
    assert functional._query_block(q[:, :10], k[:, :10]) is None  # small: in one piece


@pytest.mark.parametrize("query_length", [8, 10])  # blocks that divide the length, or not
@pytest.mark.parametrize(
    "mask_shape", [None, (2, 2, "T", "S"), (2, 1, 1, "S"), (1, 1, "T", "S"), ("T", "S")]
)
@pytest.mark.parametrize("is_causal", [False, True])
def test_attention_in_blocks_matches_reference(small_blocks, query_length, mask_shape, is_causal):
    rng = np.random.default_rng(11)
    key_length = query_length if is_causal else 7
    q, k, v = qkv(rng, query_length=query_length, key_length=key_length)
    assert functional._query_block(q, k) in (2, 4)
    mask = None
    allowed = np.ones((1, 1, query_length, key_length), bool)
    if mask_shape is not None:
        sizes = {"T": query_length, "S": key_length}
        mask = random_mask(rng, tuple(sizes.get(d, d) for d in mask_shape), empty_rows=1)
        allowed = allowed & mask
    if is_causal:
        allowed = allowed & np.tril(np.ones((query_length, key_length), bool))
    outputs = to_numpy(functional.fused_attention(q, k, v, mask=mask, is_causal=is_causal))
    expected, _ = reference.scaled_dot_product_attention(q, k, v, allowed)
    assert outputs.shape == expected.shape
    np.testing.assert_allclose(outputs, expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


def test_attention_in_blocks_gradient_matches_one_piece(small_blocks, monkeypatch):
    rng = np.random.default_rng(12)
    q, k, v = qkv(rng, query_length=10, key_length=7)
    mask = random_mask(rng, (2, 1, 10, 7))

    def loss(query):
        return keras.ops.sum(functional.fused_attention(query, k, v, mask=mask) ** 2)

    in_blocks = input_gradient(loss, q)
    monkeypatch.setattr(functional, "chunk_long_attention", lambda: False)
    np.testing.assert_allclose(in_blocks, input_gradient(loss, q), atol=1e-5, rtol=1e-5)
