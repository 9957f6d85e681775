"""`kerastack.transformer.TransformerDecoder`: the harness, parity with the
NumPy reference block (with and without cross-attention, post- and
pre-norm), causality by default, masking, the key/value cache (token by
token and in chunks equals one full pass), precision, saving and argument
checks.

Letters: B batch, T decoder length, S encoder length, D width.
"""

import keras
import numpy as np
from absl.testing import parameterized
from hypothesis import given, settings
from hypothesis import strategies as st

from kerastack.transformer import TransformerDecoder
from tests.testing import TestCase, padding_mask, random_inputs, to_numpy
from tests.transformer import reference
from tests.transformer.helpers import randomize

PROPERTY_SETTINGS = settings(max_examples=10, deadline=None, derandomize=True)
B, T, S, D = 2, 6, 4, 8


def make_decoder(seed=0, cross=True, **kwargs):
    kwargs = {"intermediate_dim": 12, "num_heads": 2, **kwargs}
    layer = TransformerDecoder(**kwargs)
    decoder_sequence = np.zeros((B, T, D), "float32")
    if cross:
        layer(decoder_sequence, np.zeros((B, S, D), "float32"))
    else:
        layer(decoder_sequence)
    randomize(layer, seed)
    return layer


class TransformerDecoderLayerTest(TestCase):
    def test_decoder_only(self):
        # Self-attention 8, two norms 2 + 2, feed-forward 4.
        self.run_layer_test(
            TransformerDecoder,
            init_kwargs={"intermediate_dim": 12, "num_heads": 2},
            input_shape=(2, 4, 8),
            expected_output_shape=(2, 4, 8),
            expected_num_trainable_weights=16,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
        )

    def test_with_cross_attention(self):
        # Plus cross-attention 8 and its norm 2.
        self.run_layer_test(
            TransformerDecoder,
            init_kwargs={"intermediate_dim": 12, "num_heads": 2, "normalize_first": True},
            input_shape={
                "decoder_sequence_shape": (2, 4, 8),
                "encoder_sequence_shape": (2, 3, 8),
            },
            expected_output_shape=(2, 4, 8),
            expected_num_trainable_weights=26,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
            run_training_check=False,
        )

    def test_gated_with_cross_attention(self):
        layer = TransformerDecoder(intermediate_dim=12, num_heads=2, gated=True)
        layer(*random_inputs(0, (2, 4, 8), (2, 3, 8)))
        self.assertLen(layer.trainable_weights, 28)
        self.assertTrue(layer.has_cross_attention)


class ReferenceParityTest(TestCase, parameterized.TestCase):
    @parameterized.named_parameters(
        ("decoder_only_post_norm", False, False),
        ("decoder_only_pre_norm", False, True),
        ("cross_post_norm", True, False),
        ("cross_pre_norm", True, True),
    )
    def test_reference(self, cross, normalize_first):
        x, encoder_sequence = random_inputs(1, (B, T, D), (B, S, D))
        layer = make_decoder(1, cross=cross, normalize_first=normalize_first, activation="gelu")
        args = (x, encoder_sequence) if cross else (x,)
        expected = reference.decoder_block(
            x,
            reference.block_weights(layer),
            encoder_sequence if cross else None,
            activation="gelu",
            normalize_first=normalize_first,
        )
        self.assert_close(layer(*args), expected)

    def test_reference_with_masks(self):
        x, encoder_sequence = random_inputs(2, (B, T, D), (B, S, D))
        layer = make_decoder(2, gated=True, activation="silu")
        decoder_mask = padding_mask([6, 4], T)
        encoder_mask = padding_mask([2, 4], S)
        outputs = layer(
            x,
            encoder_sequence,
            decoder_padding_mask=decoder_mask,
            encoder_padding_mask=encoder_mask,
        )
        expected = reference.decoder_block(
            x,
            reference.block_weights(layer),
            encoder_sequence,
            padding_mask=decoder_mask,
            encoder_padding_mask=encoder_mask,
            activation="silu",
            gated=True,
        )
        self.assert_close(outputs, expected)

    def test_use_causal_mask_false(self):
        (x,) = random_inputs(3, (B, T, D))
        layer = make_decoder(3, cross=False)
        expected = reference.decoder_block(x, reference.block_weights(layer), causal=False)
        self.assert_close(layer(x, use_causal_mask=False), expected)


class MaskingTest(TestCase):
    @PROPERTY_SETTINGS
    @given(cut=st.integers(1, T - 1), cross=st.booleans(), seed=st.integers(0, 2**16))
    def test_causal_by_default(self, cut, cross, seed):
        layer = make_decoder(4, cross=cross)
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(B, T, D)).astype("float32")
        encoder_sequence = rng.normal(size=(B, S, D)).astype("float32")
        changed = x.copy()
        changed[:, cut:] = rng.normal(size=changed[:, cut:].shape) * 10
        extra = (encoder_sequence,) if cross else ()
        before = to_numpy(layer(x, *extra))
        after = to_numpy(layer(changed, *extra))
        np.testing.assert_allclose(before[:, :cut], after[:, :cut], atol=1e-5, rtol=1e-5)
        self.assertFalse(np.allclose(before[:, cut:], after[:, cut:]))

    @PROPERTY_SETTINGS
    @given(
        decoder_lengths=st.lists(st.integers(1, T), min_size=2, max_size=2),
        encoder_lengths=st.lists(st.integers(1, S), min_size=2, max_size=2),
        seed=st.integers(0, 2**16),
    )
    def test_padding_never_changes_real_positions(self, decoder_lengths, encoder_lengths, seed):
        layer = make_decoder(5, normalize_first=True)
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(B, T, D)).astype("float32")
        encoder_sequence = rng.normal(size=(B, S, D)).astype("float32")
        decoder_mask = padding_mask(decoder_lengths, T)
        encoder_mask = padding_mask(encoder_lengths, S)
        masks = {"decoder_padding_mask": decoder_mask, "encoder_padding_mask": encoder_mask}
        other_x = np.where(decoder_mask[..., None], x, rng.normal(size=x.shape) * 100)
        other_encoder = np.where(
            encoder_mask[..., None], encoder_sequence, rng.normal(size=encoder_sequence.shape) * 100
        )
        before = to_numpy(layer(x, encoder_sequence, **masks))
        after = to_numpy(layer(other_x.astype("float32"), other_encoder.astype("float32"), **masks))
        np.testing.assert_allclose(before[decoder_mask], after[decoder_mask], atol=1e-5, rtol=1e-5)

    def test_real_positions_are_those_of_the_unpadded_sequences(self):
        layer = make_decoder(5)
        x, encoder_sequence = random_inputs(5, (B, T, D), (B, S, D))
        padded = to_numpy(
            layer(
                x,
                encoder_sequence,
                decoder_padding_mask=padding_mask([6, 4], T),
                encoder_padding_mask=padding_mask([4, 3], S),
            )
        )
        alone = to_numpy(layer(x[1:, :4], encoder_sequence[1:, :3]))
        self.assert_close(padded[1, :4], alone[0])

    def test_keras_masks_from_embeddings(self):
        target = keras.Input((None,), dtype="int32")
        source = keras.Input((None,), dtype="int32")
        target_embedding = keras.layers.Embedding(10, D, mask_zero=True)
        source_embedding = keras.layers.Embedding(10, D, mask_zero=True)
        layer = TransformerDecoder(intermediate_dim=12, num_heads=2)
        outputs = layer(target_embedding(target), source_embedding(source))
        model = keras.Model([target, source], outputs)
        randomize(layer, 6)
        target_ids = np.array([[3, 4, 5, 0, 0, 0], [6, 7, 8, 9, 1, 2]], "int32")
        source_ids = np.array([[1, 2, 0, 0], [3, 4, 5, 6]], "int32")
        explicit = to_numpy(
            layer(
                to_numpy(target_embedding(target_ids)),
                to_numpy(source_embedding(source_ids)),
                decoder_padding_mask=target_ids != 0,
                encoder_padding_mask=source_ids != 0,
            )
        )
        real = target_ids != 0
        self.assert_close(to_numpy(model([target_ids, source_ids]))[real], explicit[real])


class CacheTest(TestCase, parameterized.TestCase):
    """Incremental decoding with a key/value cache equals one full causal pass."""

    def run_in_pieces(self, layer, x, encoder_sequence, cuts, max_length=T):
        cache = layer.initial_cache(B, max_length)
        self.assertEqual(tuple(cache[0].shape), (B, max_length, 2, D // 2))
        extra = (encoder_sequence,) if encoder_sequence is not None else ()
        pieces = []
        for start, end in zip(cuts[:-1], cuts[1:], strict=True):
            outputs, cache = layer(x[:, start:end], *extra, cache=cache, cache_update_index=start)
            self.assertEqual(tuple(outputs.shape), (B, end - start, D))
            pieces.append(to_numpy(outputs))
        return np.concatenate(pieces, axis=1), cache

    @parameterized.named_parameters(
        ("decoder_only_post_norm", False, False),
        ("decoder_only_pre_norm", False, True),
        ("cross_post_norm", True, False),
        ("cross_pre_norm", True, True),
    )
    def test_cache_matches_full_pass(self, cross, normalize_first):
        x, encoder_sequence = random_inputs(7, (B, T, D), (B, S, D))
        layer = make_decoder(7, cross=cross, normalize_first=normalize_first)
        encoder_sequence = encoder_sequence if cross else None
        args = (x, encoder_sequence) if cross else (x,)
        full = to_numpy(layer(*args))
        one_by_one, cache = self.run_in_pieces(layer, x, encoder_sequence, list(range(T + 1)))
        self.assert_close(one_by_one, full)
        chunks, _ = self.run_in_pieces(layer, x, encoder_sequence, [0, 2, 5, 6])
        self.assert_close(chunks, full)
        # The cache then holds the projected keys of every position.
        keys = to_numpy(
            layer.self_attention.key_dense(
                layer.self_attention_layer_norm(x) if normalize_first else x
            )
        )
        self.assert_close(cache[0], keys)

    def test_cache_with_a_tensor_index_and_padded_queries(self):
        x, encoder_sequence = random_inputs(9, (B, T, D), (B, S, D))
        layer = make_decoder(9)
        encoder_mask = padding_mask([3, 4], S)
        full = to_numpy(layer(x, encoder_sequence, encoder_padding_mask=encoder_mask))
        cache = layer.initial_cache(B, T)
        pieces = []
        for i in range(T):
            outputs, cache = layer(
                x[:, i : i + 1],
                encoder_sequence,
                encoder_padding_mask=encoder_mask,
                cache=cache,
                cache_update_index=keras.ops.convert_to_tensor(i, "int32"),
            )
            pieces.append(to_numpy(outputs))
        self.assert_close(np.concatenate(pieces, axis=1), full)


class PrecisionTest(TestCase):
    def test_mixed_precision(self):
        x, encoder_sequence = random_inputs(10, (B, T, D), (B, S, D))

        def make_layer(policy):
            return TransformerDecoder(intermediate_dim=12, num_heads=2, dtype=policy)

        self.run_precision_check(
            make_layer,
            (x, encoder_sequence),
            {"decoder_padding_mask": padding_mask([6, 3], T)},
        )

    def test_mixed_precision_cache(self):
        (x,) = random_inputs(11, (B, T, D))
        for policy in ("mixed_float16", "mixed_bfloat16"):
            layer = TransformerDecoder(intermediate_dim=12, num_heads=2, dtype=policy)
            full = layer(x)
            cache = layer.initial_cache(B, T)
            compute_dtype = keras.DTypePolicy(policy).compute_dtype
            self.assertEqual(keras.backend.standardize_dtype(cache[0].dtype), compute_dtype)
            outputs, cache = layer(x[:, :3], cache=cache, cache_update_index=0)
            self.assertEqual(keras.backend.standardize_dtype(outputs.dtype), compute_dtype)
            self.assert_close(
                to_numpy(outputs).astype("float32"),
                to_numpy(full)[:, :3].astype("float32"),
                atol=3e-2,
                rtol=3e-2,
            )


class SaveLoadTest(TestCase):
    def test_keras_round_trip(self):
        target = keras.Input((None,), dtype="int32")
        source = keras.Input((None, D))
        x = keras.layers.Embedding(10, D, mask_zero=True)(target)
        x = TransformerDecoder(intermediate_dim=12, num_heads=2)(x, source)
        x = TransformerDecoder(intermediate_dim=12, num_heads=2, normalize_first=True)(x)
        model = keras.Model([target, source], keras.layers.Dense(3)(x))
        ids = np.array([[3, 4, 5, 0], [6, 7, 8, 9]], "int32")
        (encoder_sequence,) = random_inputs(12, (2, 3, D))
        restored = self.run_save_load_check(model, [ids, encoder_sequence])
        decoders = [layer for layer in restored.layers if isinstance(layer, TransformerDecoder)]
        self.assertEqual([layer.has_cross_attention for layer in decoders], [True, False])

    def test_config_round_trip(self):
        layer = TransformerDecoder(
            intermediate_dim=7,
            num_heads=3,
            key_dim=5,
            dropout=0.2,
            activation="gelu",
            gated=True,
            layer_norm_epsilon=1e-6,
            normalize_first=True,
        )
        config = layer.get_config()
        self.assertEqual(
            {k: config[k] for k in ("intermediate_dim", "num_heads", "key_dim", "gated")},
            {"intermediate_dim": 7, "num_heads": 3, "key_dim": 5, "gated": True},
        )
        self.assertEqual(TransformerDecoder.from_config(config).get_config(), config)


class ArgumentTest(TestCase):
    def test_cache_without_cache_update_index(self):
        layer = make_decoder(cross=False)
        cache = layer.initial_cache(B, T)
        with self.assertRaisesRegex(ValueError, "cache_update_index=None"):
            layer(np.zeros((B, 1, D), "float32"), cache=cache)

    def test_encoder_sequence_missing(self):
        layer = make_decoder(cross=True)
        with self.assertRaisesRegex(ValueError, "encoder_sequence=None"):
            layer(np.zeros((B, T, D), "float32"))

    def test_encoder_sequence_not_expected(self):
        layer = make_decoder(cross=False)
        with self.assertRaisesRegex(ValueError, "without cross-attention"):
            layer(np.zeros((B, T, D), "float32"), np.zeros((B, S, D), "float32"))

    def test_width_not_divisible_by_num_heads(self):
        layer = TransformerDecoder(intermediate_dim=4, num_heads=3)
        with self.assertRaisesRegex(ValueError, "not divisible by num_heads=3"):
            layer(np.zeros((1, 2, 8), "float32"))

    def test_rank_2_input(self):
        layer = TransformerDecoder(intermediate_dim=4, num_heads=2)
        with self.assertRaisesRegex(ValueError, r"\(batch, length, width\)"):
            layer(np.zeros((2, 8), "float32"))

    def test_bad_arguments(self):
        for kwargs, text in (
            ({"intermediate_dim": 0, "num_heads": 2}, "intermediate_dim=0"),
            ({"intermediate_dim": 4, "num_heads": 2, "dropout": 1.0}, "dropout=1.0"),
        ):
            with self.assertRaisesRegex(ValueError, text):
                TransformerDecoder(**kwargs)
