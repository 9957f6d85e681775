"""Attention-mask builders against NumPy, and what they let a model see
(Keras 3 lanes)."""

import numpy as np

from kerastack.attention import (
    causal_attention_mask,
    packed_attention_mask,
    padding_attention_mask,
    prefix_lm_attention_mask,
)
from kerastack.multihead import MultiHeadAttention
from tests.testing import to_numpy

PADDING = np.array([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]], bool)


def test_padding_and_causal_masks():
    mask = to_numpy(padding_attention_mask(PADDING))
    np.testing.assert_array_equal(mask, PADDING[:, :, None] & PADDING[:, None, :])
    causal = to_numpy(causal_attention_mask(6, batch_size=2))
    assert causal.shape == (2, 6, 6)
    np.testing.assert_array_equal(causal[1], np.tril(np.ones((6, 6), bool)))
    padded = to_numpy(causal_attention_mask(6, batch_size=2, padding_mask=PADDING))
    both = PADDING[:, :, None] & PADDING[:, None, :]
    np.testing.assert_array_equal(padded, np.tril(np.ones((6, 6), bool)) & both)


def test_prefix_lm_mask_is_unilm():
    segments = np.array([[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 0]], "int32")
    mask = to_numpy(prefix_lm_attention_mask(segments, padding_mask=PADDING))
    for b, source_length in enumerate((3, 2)):
        for i in range(6):
            for j in range(6):
                visible = j < source_length or (i >= source_length and j <= i)
                expected = visible and PADDING[b, i] and PADDING[b, j]
                assert mask[b, i, j] == expected, (b, i, j)


def test_packed_mask_is_block_diagonal():
    ids = np.array([[1, 1, 2, 2, 2, 3], [5, 5, 5, 6, 7, 7]], "int32")
    same = ids[:, :, None] == ids[:, None, :]
    np.testing.assert_array_equal(to_numpy(packed_attention_mask(ids)), same)
    causal = to_numpy(packed_attention_mask(ids, causal=True, padding_mask=PADDING))
    both = PADDING[:, :, None] & PADDING[:, None, :]
    np.testing.assert_array_equal(causal, same & np.tril(np.ones((6, 6), bool)) & both)


def test_prefix_lm_attention_hides_what_it_should():
    """With the UniLM mask, source outputs ignore the target and each target
    output ignores the target tokens after it."""
    rng = np.random.default_rng(0)
    segments = np.array([[0, 0, 0, 1, 1, 1]], "int32")
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    x = rng.normal(size=(1, 6, 8)).astype("float32")
    mask = prefix_lm_attention_mask(segments)
    base = to_numpy(layer(x, x, attention_mask=mask))
    for changed in (3, 4, 5):  # perturb one target token
        y = x.copy()
        y[0, changed] += 1.0
        out = to_numpy(layer(y, y, attention_mask=mask))
        np.testing.assert_allclose(out[0, :changed], base[0, :changed], atol=1e-6)
        assert np.abs(out[0, changed] - base[0, changed]).max() > 1e-3
