"""MultiHeadAttention's key/value cache and rotary position hook.

Letters: B batch, T length, D width, N heads, H key_dim.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kerastack.core import keras
from kerastack.multihead import MultiHeadAttention
from kerastack.position import RotaryEmbedding
from tests.testing import TestCase, random_inputs, to_numpy


def rotate_half_reference(x, start=0, base=10000.0):
    """RoPE on `(B, T, N, H)` in float64, written from the definition."""
    x = np.asarray(x, "float64")
    half = x.shape[-1] // 2
    frequencies = 1.0 / base ** (np.arange(half) * 2.0 / x.shape[-1])
    angles = (np.arange(x.shape[1]) + start)[:, None] * frequencies[None, :]  # (T, H/2)
    cos = np.cos(np.concatenate([angles, angles], -1))[None, :, None, :]
    sin = np.sin(np.concatenate([angles, angles], -1))[None, :, None, :]
    rotated = np.concatenate([-x[..., half:], x[..., :half]], -1)
    return x * cos + rotated * sin


class CacheTest(TestCase):
    def make(self, causal=True, rotary=False):
        keras.utils.set_random_seed(0)
        return MultiHeadAttention(
            num_heads=2,
            key_dim=4,
            causal=causal,
            rotary_embedding=RotaryEmbedding() if rotary else None,
        )

    @settings(max_examples=6, deadline=None, derandomize=True)
    @given(chunk=st.integers(1, 3), rotary=st.booleans())
    def test_incremental_equals_full_causal_pass(self, chunk, rotary):
        (x,) = random_inputs(1, (2, 6, 8))
        layer = self.make(rotary=rotary)
        full = to_numpy(layer(x, x))
        cache = layer.initial_cache(2, 6)
        pieces = []
        for start in range(0, 6, chunk):
            step = x[:, start : start + chunk]
            out, cache = layer(step, step, cache=cache, cache_update_index=start)
            pieces.append(to_numpy(out))
        np.testing.assert_allclose(np.concatenate(pieces, 1), full, atol=1e-5, rtol=1e-5)

    def test_cache_holds_projected_keys(self):
        (x,) = random_inputs(2, (1, 3, 8))
        layer = self.make()
        _, (key_cache, value_cache) = layer(
            x, x, cache=layer.initial_cache(1, 5), cache_update_index=0
        )
        expected = to_numpy(layer.key_dense(x))
        np.testing.assert_allclose(to_numpy(key_cache)[:, :3], expected, atol=1e-6)
        np.testing.assert_array_equal(to_numpy(key_cache)[:, 3:], 0.0)
        self.assertEqual(tuple(value_cache.shape), (1, 5, 2, 4))

    def test_cache_needs_an_index(self):
        (x,) = random_inputs(3, (1, 2, 8))
        layer = self.make()
        with self.assertRaisesRegex(ValueError, "cache_update_index"):
            layer(x, x, cache=layer.initial_cache(1, 4))


class RotaryTest(TestCase):
    def test_rotary_rotates_queries_and_keys(self):
        (x,) = random_inputs(4, (2, 5, 8))
        layer = MultiHeadAttention(num_heads=2, key_dim=4, rotary_embedding=RotaryEmbedding())
        out, scores = layer(x, x, return_attention_scores=True)
        q = rotate_half_reference(to_numpy(layer.query_dense(x)))
        k = rotate_half_reference(to_numpy(layer.key_dense(x)))
        logits = np.einsum("btnh,bsnh->bnts", q, k) / 2.0  # sqrt(key_dim) = 2
        expected = np.exp(logits - logits.max(-1, keepdims=True))
        expected /= expected.sum(-1, keepdims=True)
        np.testing.assert_allclose(to_numpy(scores), expected, atol=1e-5)
        self.assertEqual(tuple(out.shape), (2, 5, 8))

    def test_rotary_survives_save_and_load(self):
        inputs = keras.Input((None, 8))
        outputs = MultiHeadAttention(
            num_heads=2, key_dim=4, rotary_embedding=RotaryEmbedding(max_wavelength=500)
        )(inputs, inputs)
        model = keras.Model(inputs, outputs)
        (x,) = random_inputs(5, (2, 5, 8))
        restored = self.run_save_load_check(model, x)
        rotary = restored.layers[-1].rotary_embedding
        self.assertEqual(rotary.max_wavelength, 500)

    def test_rotary_must_be_a_layer(self):
        with self.assertRaisesRegex(ValueError, "rotary_embedding"):
            MultiHeadAttention(num_heads=2, key_dim=4, rotary_embedding="rope")
