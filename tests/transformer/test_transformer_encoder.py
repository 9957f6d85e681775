"""`kerastack.transformer.TransformerEncoder`: the harness, parity with the
NumPy reference block (post- and pre-norm), masking and causality
properties, Keras masks, precision, saving and argument checks.

Letters: B batch, T length, D width.
"""

import keras
import numpy as np
from absl.testing import parameterized
from hypothesis import given, settings
from hypothesis import strategies as st

from kerastack.transformer import TransformerEncoder
from tests.testing import TestCase, padding_mask, random_inputs, to_numpy
from tests.transformer import reference
from tests.transformer.helpers import randomize

PROPERTY_SETTINGS = settings(max_examples=10, deadline=None, derandomize=True)


def make_encoder(seed=0, shape=(2, 5, 8), **kwargs):
    kwargs = {"intermediate_dim": 12, "num_heads": 2, **kwargs}
    layer = TransformerEncoder(**kwargs)
    layer(np.zeros(shape, "float32"))
    randomize(layer, seed)
    return layer


class TransformerEncoderLayerTest(TestCase):
    def test_post_norm(self):
        # Attention 8 (4 kernels, 4 biases), two norms 2 + 2, feed-forward 4.
        self.run_layer_test(
            TransformerEncoder,
            init_kwargs={"intermediate_dim": 12, "num_heads": 2},
            input_shape=(2, 4, 8),
            expected_output_shape=(2, 4, 8),
            expected_num_trainable_weights=16,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
        )

    def test_pre_norm_gated_key_dim(self):
        # A gated feed-forward network adds a kernel and a bias.
        self.run_layer_test(
            TransformerEncoder,
            init_kwargs={
                "intermediate_dim": 12,
                "num_heads": 3,
                "key_dim": 2,
                "gated": True,
                "activation": "gelu",
                "normalize_first": True,
            },
            input_shape=(2, 4, 8),
            expected_output_shape=(2, 4, 8),
            expected_num_trainable_weights=18,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
            run_training_check=False,
        )

    def test_sublayer_weight_shapes(self):
        layer = make_encoder(num_heads=2)
        self.assertEqual(tuple(layer.self_attention.query_dense.kernel.shape), (8, 2, 4))
        self.assertEqual(tuple(layer.feed_forward.intermediate_dense.kernel.shape), (8, 12))
        self.assertEqual(tuple(layer.feed_forward_layer_norm.gamma.shape), (8,))


class ReferenceParityTest(TestCase, parameterized.TestCase):
    @parameterized.named_parameters(
        ("post_norm", False, False, None),
        ("pre_norm", True, False, None),
        ("post_norm_padding", False, False, [5, 3]),
        ("pre_norm_padding_causal", True, True, [4, 2]),
    )
    def test_reference(self, normalize_first, causal, lengths):
        (x,) = random_inputs(1, (2, 5, 8))
        layer = make_encoder(1, normalize_first=normalize_first, activation="gelu")
        mask = None if lengths is None else padding_mask(lengths, 5)
        outputs = layer(x, padding_mask=mask, use_causal_mask=causal)
        expected = reference.encoder_block(
            x,
            reference.block_weights(layer),
            padding_mask=mask,
            causal=causal,
            activation="gelu",
            normalize_first=normalize_first,
        )
        self.assert_close(outputs, expected)

    def test_reference_gated(self):
        (x,) = random_inputs(2, (2, 4, 8))
        layer = make_encoder(2, shape=(2, 4, 8), gated=True, activation="silu")
        expected = reference.encoder_block(
            x, reference.block_weights(layer), activation="silu", gated=True
        )
        self.assert_close(layer(x), expected)

    def test_attention_mask(self):
        (x,) = random_inputs(3, (2, 5, 8))
        layer = make_encoder(3)
        causal = np.tril(np.ones((5, 5), bool))
        explicit = layer(x, attention_mask=np.broadcast_to(causal, (2, 5, 5)))
        self.assert_close(explicit, layer(x, use_causal_mask=True))


class MaskingTest(TestCase):
    @PROPERTY_SETTINGS
    @given(
        lengths=st.lists(st.integers(1, 5), min_size=2, max_size=2),
        normalize_first=st.booleans(),
        seed=st.integers(0, 2**16),
    )
    def test_padding_never_changes_real_positions(self, lengths, normalize_first, seed):
        layer = make_encoder(4, normalize_first=normalize_first)
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(2, 5, 8)).astype("float32")
        mask = padding_mask(lengths, 5)
        other = np.where(mask[..., None], x, rng.normal(size=x.shape) * 100).astype("float32")
        before = to_numpy(layer(x, padding_mask=mask))
        after = to_numpy(layer(other, padding_mask=mask))
        np.testing.assert_allclose(before[mask], after[mask], atol=1e-5, rtol=1e-5)

    def test_real_positions_are_those_of_the_unpadded_sequence(self):
        layer = make_encoder(4)
        (x,) = random_inputs(4, (2, 5, 8))
        mask = padding_mask([5, 3], 5)
        padded = to_numpy(layer(x, padding_mask=mask))
        self.assert_close(padded[1, :3], to_numpy(layer(x[1:, :3]))[0])

    @PROPERTY_SETTINGS
    @given(cut=st.integers(1, 4), normalize_first=st.booleans(), seed=st.integers(0, 2**16))
    def test_future_never_changes_the_past(self, cut, normalize_first, seed):
        layer = make_encoder(5, normalize_first=normalize_first)
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(2, 5, 8)).astype("float32")
        changed = x.copy()
        changed[:, cut:] = rng.normal(size=changed[:, cut:].shape) * 10
        before = to_numpy(layer(x, use_causal_mask=True))
        after = to_numpy(layer(changed, use_causal_mask=True))
        np.testing.assert_allclose(before[:, :cut], after[:, :cut], atol=1e-5, rtol=1e-5)
        self.assertFalse(np.allclose(before[:, cut:], after[:, cut:]))

    def test_without_causal_mask_the_future_matters(self):
        layer = make_encoder(6)
        x, changed = random_inputs(6, (2, 5, 8), (2, 5, 8))
        changed[:, :2] = x[:, :2]
        self.assertFalse(np.allclose(to_numpy(layer(x))[:, :2], to_numpy(layer(changed))[:, :2]))

    def test_keras_mask_from_embedding(self):
        tokens = keras.Input((None,), dtype="int32")
        embedding = keras.layers.Embedding(10, 8, mask_zero=True)
        layer = TransformerEncoder(intermediate_dim=12, num_heads=2)
        hidden = layer(embedding(tokens))
        # Average pooling over real positions only iff the mask is handed on.
        pooled = keras.layers.GlobalAveragePooling1D()(hidden)
        model = keras.Model(tokens, [hidden, pooled])
        randomize(layer, 7)
        ids = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 9, 1]], "int32")
        mask = ids != 0
        embedded = to_numpy(embedding(ids))
        explicit = to_numpy(layer(embedded, padding_mask=mask))
        hidden, pooled = model(ids)
        self.assert_close(to_numpy(hidden)[mask], explicit[mask])
        self.assert_close(pooled, (explicit * mask[..., None]).sum(1) / mask.sum(1, keepdims=True))
        # And the mask changes the result: without it, padding is attended to.
        unmasked = to_numpy(layer(embedded))
        self.assertFalse(np.allclose(unmasked[0, :3], explicit[0, :3], atol=1e-4))


class PrecisionTest(TestCase):
    def test_mixed_precision(self):
        (x,) = random_inputs(8, (2, 5, 8))
        for normalize_first in (False, True):

            def make_layer(policy, normalize_first=normalize_first):
                return TransformerEncoder(
                    intermediate_dim=12, num_heads=2, normalize_first=normalize_first, dtype=policy
                )

            self.run_precision_check(
                make_layer,
                (x,),
                {"padding_mask": padding_mask([5, 3], 5), "use_causal_mask": True},
            )


class SaveLoadTest(TestCase):
    def test_keras_round_trip(self):
        tokens = keras.Input((None,), dtype="int32")
        x = keras.layers.Embedding(10, 8, mask_zero=True)(tokens)
        x = TransformerEncoder(intermediate_dim=12, num_heads=2, normalize_first=True)(x)
        x = TransformerEncoder(intermediate_dim=12, num_heads=2, gated=True, dropout=0.1)(x)
        model = keras.Model(tokens, keras.layers.Dense(3)(x))
        ids = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 9, 1]], "int32")
        restored = self.run_save_load_check(model, ids)
        first, second = restored.layers[2], restored.layers[3]
        self.assertIsInstance(first, TransformerEncoder)
        self.assertTrue(first.normalize_first)
        self.assertEqual((second.gated, second.dropout), (True, 0.1))

    def test_config_round_trip(self):
        layer = TransformerEncoder(
            intermediate_dim=7,
            num_heads=3,
            key_dim=5,
            dropout=0.2,
            activation="gelu",
            gated=True,
            layer_norm_epsilon=1e-6,
            normalize_first=True,
            kernel_initializer="he_normal",
        )
        config = layer.get_config()
        for name, value in {
            "intermediate_dim": 7,
            "num_heads": 3,
            "key_dim": 5,
            "dropout": 0.2,
            "activation": "gelu",
            "gated": True,
            "layer_norm_epsilon": 1e-6,
            "normalize_first": True,
        }.items():
            self.assertEqual(config[name], value, name)
        self.assertEqual(TransformerEncoder.from_config(config).get_config(), config)


class ArgumentTest(TestCase):
    def test_width_not_divisible_by_num_heads(self):
        layer = TransformerEncoder(intermediate_dim=4, num_heads=3)
        with self.assertRaisesRegex(ValueError, "width 8 is not divisible by num_heads=3"):
            layer(np.zeros((1, 2, 8), "float32"))

    def test_rank_2_input(self):
        layer = TransformerEncoder(intermediate_dim=4, num_heads=2)
        with self.assertRaisesRegex(ValueError, r"\(batch, length, width\).*\(2, 8\)"):
            layer(np.zeros((2, 8), "float32"))

    def test_bad_arguments(self):
        for kwargs, text in (
            ({"intermediate_dim": 0, "num_heads": 2}, "intermediate_dim=0"),
            ({"intermediate_dim": 4, "num_heads": 0}, "num_heads=0"),
            ({"intermediate_dim": 4, "num_heads": 2, "dropout": 1.0}, "dropout=1.0"),
            ({"intermediate_dim": 4, "num_heads": 2, "layer_norm_epsilon": 0}, "epsilon=0"),
        ):
            with self.assertRaisesRegex(ValueError, text):
                TransformerEncoder(**kwargs)
