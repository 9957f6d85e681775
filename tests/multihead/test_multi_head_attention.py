"""`kerastack.multihead.MultiHeadAttention`: the harness, golden values, parity
with `keras.layers.MultiHeadAttention` and with the NumPy reference, masking,
causality, precision, saving, gradients, dropout and argument checks.

Letters: B batch, T query length, S key/value length, D width, N heads,
H key_dim, V value_dim, O output width.
"""

import keras
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kerastack.multihead import MultiHeadAttention
from tests import goldens, reference
from tests.testing import (
    TestCase,
    finite_difference_gradient,
    float64_enabled,
    input_gradient,
    padding_mask,
    random_inputs,
    to_numpy,
)

BACKEND = keras.config.backend()
PROPERTY_SETTINGS = settings(max_examples=15, deadline=None, derandomize=True)


def random_weights(layer, seed, scale=0.5):
    """Random values for every weight of a built layer (biases included)."""
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=w.shape) * scale).astype("float32") for w in layer.get_weights()]


def keras_layout_weights(layer):
    """`[Wq, bq, Wk, bk, Wv, bv, Wo, bo]` of a layer, zero biases when it has none."""
    weights = layer.get_weights()
    if layer.use_bias:
        return weights
    full = []
    for kernel in weights:
        bias_shape = kernel.shape[-1:] if len(full) == 6 else kernel.shape[1:]
        full += [kernel, np.zeros(bias_shape, kernel.dtype)]
    return full


def keras_pair(seed, query, value, key=None, **kwargs):
    """A `keras.layers.MultiHeadAttention` with random weights (biases too)
    and ours holding the same weights, both built for these inputs."""
    theirs = keras.layers.MultiHeadAttention(**kwargs)
    # Keras's explicit path (scores requested); its fused path fails for
    # value_dim != key_dim on some backends.
    theirs(query, value, key=key, return_attention_scores=True)
    theirs.set_weights(random_weights(theirs, seed))
    ours = MultiHeadAttention(**kwargs)
    ours(query, value, key=key)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def masked_model(layer, query_shape, value_shape, **call_kwargs):
    """A functional model `Masking(query), Masking(value) -> layer`, so the
    layer gets the Keras masks the way a model hands them over."""
    query_in = keras.Input(query_shape[1:], batch_size=query_shape[0])
    value_in = keras.Input(value_shape[1:], batch_size=value_shape[0])
    query = keras.layers.Masking(0.0)(query_in)
    value = keras.layers.Masking(0.0)(value_in)
    outputs = layer(query, value, **call_kwargs)
    return keras.Model([query_in, value_in], outputs)


class MultiHeadAttentionLayerTest(TestCase):
    """Keras's own harness: config round trip, build, symbolic and eager calls."""

    # `run_training_check=False` throughout: the harness's training model calls
    # the layer on a single input, while MultiHeadAttention takes query and
    # value; training is covered by `test_trains_in_a_model`.

    def test_self_attention_shapes(self):
        self.run_layer_test(
            MultiHeadAttention,
            init_kwargs={"num_heads": 2, "key_dim": 3},
            input_shape={"query_shape": (2, 4, 6), "value_shape": (2, 4, 6)},
            expected_output_shape=(2, 4, 6),
            expected_num_trainable_weights=8,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
            run_training_check=False,
        )

    def test_cross_attention_key_output_shape_no_bias_dropout(self):
        # Separate key, no biases (4 weights), output_shape, and dropout (its
        # one seed generator).
        self.run_layer_test(
            MultiHeadAttention,
            init_kwargs={
                "num_heads": 2,
                "key_dim": 4,
                "output_shape": 5,
                "use_bias": False,
                "dropout": 0.25,
                "seed": 3,
            },
            input_shape={
                "query_shape": (2, 3, 6),
                "value_shape": (2, 4, 7),
                "key_shape": (2, 4, 8),
            },
            expected_output_shape=(2, 3, 5),
            expected_num_trainable_weights=4,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=1,
            supports_masking=True,
            run_training_check=False,
        )

    def test_value_dim(self):
        self.run_layer_test(
            MultiHeadAttention,
            init_kwargs={"num_heads": 2, "key_dim": 3, "value_dim": 5},
            input_shape={"query_shape": (2, 4, 6), "value_shape": (2, 5, 6)},
            expected_output_shape=(2, 4, 6),
            expected_num_trainable_weights=8,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            supports_masking=True,
            run_training_check=False,
        )

    def test_weight_shapes_follow_the_keras_layout(self):
        layer = MultiHeadAttention(num_heads=2, key_dim=3, output_shape=5)
        layer(*random_inputs(0, (1, 4, 6), (1, 2, 7)))
        shapes = {w.path.split("/", 1)[1]: tuple(w.shape) for w in layer.weights}
        self.assertEqual(
            shapes,
            {
                "query/kernel": (6, 2, 3),
                "query/bias": (2, 3),
                "key/kernel": (7, 2, 3),
                "key/bias": (2, 3),
                "value/kernel": (7, 2, 3),
                "value/bias": (2, 3),
                "attention_output/kernel": (2, 3, 5),
                "attention_output/bias": (5,),
            },
        )

    def test_compute_mask_returns_the_query_mask(self):
        layer = MultiHeadAttention(num_heads=1, key_dim=2)
        (query,) = random_inputs(0, (2, 3, 4))
        query_mask = np.array([[True, True, False], [True, False, False]])
        # Keras calls compute_mask(first input, its mask): the query's mask.
        mask = layer.compute_mask(query, query_mask)
        np.testing.assert_array_equal(to_numpy(mask), query_mask)
        self.assertIsNone(layer.compute_mask(query, None))

    def test_mask_propagates_through_a_model(self):
        # Embedding(mask_zero) -> MHA -> GlobalAveragePooling1D: the pooling
        # averages only the real positions iff MHA hands the mask on.
        tokens = keras.Input((None,), dtype="int32")
        x = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
        layer = MultiHeadAttention(num_heads=2, key_dim=2)
        pooled = keras.layers.GlobalAveragePooling1D()(layer(x, x))
        model = keras.Model(tokens, pooled)
        ids = np.array([[3, 4, 0], [5, 0, 0]], "int32")
        embedded = to_numpy(model.layers[1](ids))
        mask = ids != 0
        per_position = to_numpy(layer(embedded, embedded, query_mask=mask, value_mask=mask))
        np.testing.assert_array_equal(per_position[~mask], 0.0)
        expected = per_position.sum(1) / mask.sum(1, keepdims=True)
        self.assert_close(model(ids), expected)


class GoldenValueTest(TestCase):
    """Hand-set weights and hand-derived outputs: see tests/goldens.py."""

    def make_layer(self):
        # One head, D = H = O = 2. Wq = Wk = Wv = I, Wo = 2 I, bo = [1, -1].
        layer = MultiHeadAttention(num_heads=1, key_dim=2)
        layer(np.zeros((1, 2, 2), "float32"), np.zeros((1, 2, 2), "float32"))
        layer.set_weights(goldens.MHA_WEIGHTS)
        return layer

    def test_golden_values(self):
        layer = self.make_layer()
        query, value = goldens.MHA_QUERY, goldens.MHA_VALUE
        outputs, scores = layer(query, value, return_attention_scores=True)
        self.assert_close(outputs, goldens.MHA_OUTPUTS)
        self.assert_close(scores, goldens.MHA_SCORES)
        # The fused path gives the same numbers.
        self.assert_close(layer(query, value), goldens.MHA_OUTPUTS)

    def test_golden_values_with_masks(self):
        layer = self.make_layer()
        query, value = goldens.MHA_QUERY, goldens.MHA_VALUE
        # Value 1 and query 1 are padding.
        masks = {"query_mask": goldens.MHA_QUERY_MASK, "value_mask": goldens.MHA_VALUE_MASK}
        outputs, scores = layer(query, value, return_attention_scores=True, **masks)
        self.assert_close(outputs, goldens.MHA_MASKED_OUTPUTS)
        self.assert_close(scores, goldens.MHA_MASKED_SCORES)
        self.assert_close(layer(query, value, **masks), goldens.MHA_MASKED_OUTPUTS)

    def test_golden_values_causal(self):
        layer = self.make_layer()
        outputs = layer(goldens.MHA_QUERY, goldens.MHA_VALUE, use_causal_mask=True)
        self.assert_close(outputs, goldens.MHA_CAUSAL_OUTPUTS)


class KerasParityTest(TestCase):
    """Same weights as `keras.layers.MultiHeadAttention`, same outputs on every
    real position."""

    def assert_keras_parity(self, theirs, ours, query, value, key=None, **call_kwargs):
        expected, expected_scores = theirs(
            query, value, key=key, return_attention_scores=True, **call_kwargs
        )
        outputs, scores = ours(query, value, key=key, return_attention_scores=True, **call_kwargs)
        self.assert_close(outputs, expected)
        self.assert_close(scores, expected_scores)
        # The fused path too.
        self.assert_close(ours(query, value, key=key, **call_kwargs), expected)

    def test_self_attention(self):
        (x,) = random_inputs(1, (2, 5, 8))
        theirs, ours = keras_pair(1, query=x, value=x, num_heads=2, key_dim=4)
        self.assert_keras_parity(theirs, ours, x, x)

    def test_cross_attention(self):
        query, value = random_inputs(2, (2, 3, 6), (2, 5, 7))
        theirs, ours = keras_pair(2, query=query, value=value, num_heads=3, key_dim=2)
        self.assert_keras_parity(theirs, ours, query, value)

    def test_different_key_and_value(self):
        query, value, key = random_inputs(3, (2, 3, 6), (2, 5, 7), (2, 5, 4))
        theirs, ours = keras_pair(3, query=query, value=value, key=key, num_heads=2, key_dim=3)
        self.assert_keras_parity(theirs, ours, query, value, key)

    def test_value_dim_differs_from_key_dim(self):
        query, value = random_inputs(4, (2, 3, 6), (2, 5, 7))
        theirs, ours = keras_pair(4, query=query, value=value, num_heads=2, key_dim=3, value_dim=5)
        self.assert_keras_parity(theirs, ours, query, value)

    def test_output_shape(self):
        query, value = random_inputs(5, (2, 3, 6), (2, 5, 7))
        theirs, ours = keras_pair(
            5, query=query, value=value, num_heads=2, key_dim=3, output_shape=4
        )
        self.assertEqual(tuple(ours(query, value).shape), (2, 3, 4))
        self.assert_keras_parity(theirs, ours, query, value)

    def test_without_bias(self):
        query, value = random_inputs(6, (2, 3, 6), (2, 5, 6))
        theirs, ours = keras_pair(
            6, query=query, value=value, num_heads=2, key_dim=3, use_bias=False
        )
        self.assertLen(ours.weights, 4)
        self.assert_keras_parity(theirs, ours, query, value)

    def test_attention_mask(self):
        query, value = random_inputs(7, (2, 3, 6), (2, 5, 6))
        rng = np.random.default_rng(7)
        attention_mask = rng.random((2, 3, 5)) < 0.6
        attention_mask[..., 0] = True  # every query sees at least one key
        theirs, ours = keras_pair(7, query=query, value=value, num_heads=2, key_dim=3)
        self.assert_keras_parity(theirs, ours, query, value, attention_mask=attention_mask)

    def causal_pair(self, seed, constructor):
        """Keras with random weights and ours with the same; ours causal by
        constructor or (like Keras) by `use_causal_mask` at call time."""
        (x,) = random_inputs(seed, (2, 5, 6))
        theirs = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
        theirs(x, x, return_attention_scores=True)
        theirs.set_weights(random_weights(theirs, seed))
        ours = MultiHeadAttention(num_heads=2, key_dim=3, causal=constructor)
        ours(x, x)
        ours.set_weights(theirs.get_weights())
        call_kwargs = {} if constructor else {"use_causal_mask": True}
        expected = theirs(x, x, use_causal_mask=True, return_attention_scores=True)
        return x, ours, call_kwargs, expected

    def test_use_causal_mask(self):
        x, ours, call_kwargs, (expected, _) = self.causal_pair(8, constructor=False)
        self.assert_close(ours(x, x, **call_kwargs), expected)

    def test_constructor_causal_matches_use_causal_mask(self):
        x, ours, call_kwargs, (expected, _) = self.causal_pair(9, constructor=True)
        self.assert_close(ours(x, x, **call_kwargs), expected)

    def test_use_causal_mask_with_scores(self):
        x, ours, call_kwargs, (expected, expected_scores) = self.causal_pair(8, False)
        outputs, scores = ours(x, x, return_attention_scores=True, **call_kwargs)
        self.assert_close(scores, expected_scores)
        self.assert_close(outputs, expected)

    def test_constructor_causal_with_scores(self):
        x, ours, call_kwargs, (expected, expected_scores) = self.causal_pair(9, True)
        outputs, scores = ours(x, x, return_attention_scores=True, **call_kwargs)
        self.assert_close(scores, expected_scores)
        self.assert_close(outputs, expected)

    def test_keras_masks_on_query_and_value(self):
        query, value = random_inputs(10, (2, 4, 6), (2, 5, 6))
        query_mask = padding_mask([3, 2], 4)
        value_mask = padding_mask([4, 2], 5)
        query = query * query_mask[..., None]  # Masking(0.0) reads zeros as padding
        value = value * value_mask[..., None]
        theirs, ours = keras_pair(10, query=query, value=value, num_heads=2, key_dim=3)
        for call_kwargs in ({}, {"use_causal_mask": True}):
            keras_model = masked_model(
                theirs, query.shape, value.shape, return_attention_scores=True, **call_kwargs
            )
            our_model = masked_model(
                ours, query.shape, value.shape, return_attention_scores=True, **call_kwargs
            )
            our_fused = masked_model(ours, query.shape, value.shape, **call_kwargs)
            expected, expected_scores = (to_numpy(t) for t in keras_model([query, value]))
            outputs, scores = (to_numpy(t) for t in our_model([query, value]))
            fused = to_numpy(our_fused([query, value]))
            # Real query positions agree; padded ones are exactly zero here
            # (Keras leaves them non-zero: a documented difference).
            self.assert_close(outputs[query_mask], expected[query_mask])
            self.assert_close(fused[query_mask], expected[query_mask])
            self.assert_close(
                scores.transpose(0, 2, 1, 3)[query_mask],
                expected_scores.transpose(0, 2, 1, 3)[query_mask],
            )
            np.testing.assert_array_equal(outputs[~query_mask], 0.0)
            np.testing.assert_array_equal(fused[~query_mask], 0.0)


class ReferenceParityTest(TestCase):
    """Against `tests.reference.multi_head_attention` (NumPy, float64)."""

    def assert_reference_parity(
        self,
        layer,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        attention_mask=None,
        causal=False,
    ):
        kwargs = {
            "query_mask": query_mask,
            "value_mask": value_mask,
            "attention_mask": attention_mask,
            "use_causal_mask": causal,
        }
        outputs, scores = layer(query, value, key=key, return_attention_scores=True, **kwargs)
        fused = layer(query, value, key=key, **kwargs)
        allowed = np.ones((query.shape[0], query.shape[1], value.shape[1]), bool)
        if query_mask is not None:
            allowed &= query_mask[:, :, None]
        if value_mask is not None:
            allowed &= value_mask[:, None, :]
        if attention_mask is not None:
            allowed &= attention_mask
        if causal:
            allowed &= np.tril(np.ones((query.shape[1], value.shape[1]), bool))[None]
        expected, expected_scores = reference.multi_head_attention(
            query,
            value,
            value if key is None else key,
            keras_layout_weights(layer),
            allowed=allowed[:, None],
        )
        real = np.ones(query.shape[:2], bool) if query_mask is None else query_mask
        for actual in (outputs, fused):
            actual = to_numpy(actual)
            self.assert_close(actual[real], expected[real])
            np.testing.assert_array_equal(actual[~real], 0.0)
        self.assert_close(scores, expected_scores)

    def make_layer(self, seed, query, value, key=None, **kwargs):
        layer = MultiHeadAttention(**kwargs)
        layer(query, value, key=key)
        layer.set_weights(random_weights(layer, seed))
        return layer

    def test_random_weights(self):
        query, value, key = random_inputs(20, (2, 4, 6), (2, 5, 7), (2, 5, 3))
        layer = self.make_layer(20, query, value, key, num_heads=3, key_dim=2, output_shape=5)
        self.assert_reference_parity(layer, query, value, key)

    def test_masks(self):
        query, value = random_inputs(21, (3, 4, 6), (3, 5, 6))
        layer = self.make_layer(21, query, value, num_heads=2, key_dim=3)
        query_mask = padding_mask([4, 2, 1], 4)
        value_mask = padding_mask([5, 3, 1], 5)
        self.assert_reference_parity(
            layer, query, value, query_mask=query_mask, value_mask=value_mask
        )

    def test_masks_attention_mask_and_causal(self):
        (x,) = random_inputs(22, (2, 5, 6))
        layer = self.make_layer(22, x, x, num_heads=2, key_dim=2, use_bias=False)
        rng = np.random.default_rng(22)
        attention_mask = rng.random((2, 5, 5)) < 0.7
        mask = padding_mask([5, 3], 5)
        self.assert_reference_parity(
            layer,
            x,
            x,
            query_mask=mask,
            value_mask=mask,
            attention_mask=attention_mask,
            causal=True,
        )

    def test_query_with_nothing_to_attend_to_gets_zero_heads(self):
        query, value = random_inputs(23, (2, 3, 4), (2, 4, 4))
        layer = self.make_layer(23, query, value, num_heads=2, key_dim=2)
        value_mask = np.array([[True, True, False, False], [False, False, False, False]])
        outputs = to_numpy(layer(query, value, value_mask=value_mask))
        self.assertTrue(np.all(np.isfinite(outputs)))
        # Batch 1 has no real key: the reference gives zero heads, so the
        # output is the output bias alone (no query mask was given).
        expected, _ = reference.multi_head_attention(
            query, value, value, layer.get_weights(), allowed=value_mask[:, None, None, :]
        )
        self.assert_close(outputs, expected)


class PrecisionTest(TestCase):
    def test_mixed_precision(self):
        query, value = random_inputs(30, (2, 4, 8), (2, 5, 8))

        def make_layer(policy):
            return MultiHeadAttention(num_heads=2, key_dim=4, dtype=policy)

        self.run_precision_check(make_layer, (query, value))

    def test_mixed_precision_with_masks_and_scores(self):
        query, value = random_inputs(31, (2, 4, 8), (2, 5, 8))
        call_kwargs = {
            "query_mask": padding_mask([4, 2], 4),
            "value_mask": padding_mask([5, 3], 5),
            "return_attention_scores": True,
            "use_causal_mask": True,
        }

        def make_layer(policy):
            return MultiHeadAttention(num_heads=2, key_dim=4, output_shape=6, dtype=policy)

        self.run_precision_check(make_layer, (query, value), call_kwargs)

    def test_fully_padded_rows_in_float16_give_zeros(self):
        query, value = random_inputs(32, (2, 3, 8), (2, 4, 8))
        layer = MultiHeadAttention(num_heads=2, key_dim=4, dtype="mixed_float16")
        # Batch 0: query 2 is padding. Batch 1: every key is padding, so no
        # query has anything to attend to.
        query_mask = np.array([[True, True, False], [True, True, True]])
        value_mask = np.array([[True, True, True, False], [False, False, False, False]])
        for scores in (False, True):
            result = layer(
                query,
                value,
                query_mask=query_mask,
                value_mask=value_mask,
                return_attention_scores=scores,
            )
            outputs = to_numpy(result[0] if scores else result)
            self.assertEqual(outputs.dtype, np.float16)
            self.assertTrue(np.all(np.isfinite(outputs)))
            np.testing.assert_array_equal(outputs[0, 2], 0.0)
            self.assertTrue(np.all(outputs[0, :2] != 0.0))
            if scores:
                weights = to_numpy(result[1])
                self.assertTrue(np.all(np.isfinite(weights)))
                np.testing.assert_array_equal(weights[1], 0.0)
                np.testing.assert_array_equal(weights[0, :, 2], 0.0)


class SaveLoadTest(TestCase):
    def test_keras_round_trip(self):
        tokens = keras.Input((None,), dtype="int32")
        x = keras.layers.Embedding(20, 8, mask_zero=True)(tokens)
        x = MultiHeadAttention(num_heads=2, key_dim=4, causal=True, dropout=0.1, seed=2)(x, x)
        outputs = keras.layers.Dense(3)(x)
        model = keras.Model(tokens, outputs)
        ids = np.array([[3, 7, 1, 0, 0], [5, 2, 9, 4, 8]], "int32")
        restored = self.run_save_load_check(model, ids)
        layer = restored.layers[2]
        self.assertIsInstance(layer, MultiHeadAttention)
        self.assertTrue(layer.causal)
        self.assertEqual((layer.num_heads, layer.key_dim, layer.dropout), (2, 4, 0.1))

    def test_config_round_trip(self):
        layer = MultiHeadAttention(
            num_heads=3,
            key_dim=2,
            value_dim=4,
            dropout=0.2,
            use_bias=False,
            output_shape=7,
            causal=True,
            kernel_initializer="he_normal",
            kernel_regularizer="l2",
            seed=5,
        )
        config = layer.get_config()
        for name, value in {
            "num_heads": 3,
            "key_dim": 2,
            "value_dim": 4,
            "dropout": 0.2,
            "use_bias": False,
            "output_shape": 7,
            "causal": True,
            "seed": 5,
        }.items():
            self.assertEqual(config[name], value, name)
        revived = MultiHeadAttention.from_config(config)
        self.assertEqual(revived.get_config(), config)

    def test_trains_in_a_model(self):
        query_in = keras.Input((4, 6))
        value_in = keras.Input((5, 6))
        outputs = MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.1)(query_in, value_in)
        model = keras.Model([query_in, value_in], outputs)
        query, value = random_inputs(40, (4, 4, 6), (4, 5, 6))
        before = [w.copy() for w in model.get_weights()]
        model.compile(optimizer="sgd", loss="mse")
        model.fit([query, value], np.zeros((4, 4, 6), "float32"), epochs=1, verbose=0)
        after = model.get_weights()
        self.assertTrue(all(np.all(np.isfinite(w)) for w in after))
        self.assertTrue(any(not np.allclose(b, a) for b, a in zip(before, after, strict=True)))


class PropertyTest(TestCase):
    # Fixed padded shapes so that eager JAX reuses its compiled ops.

    @PROPERTY_SETTINGS
    @given(
        query_lengths=st.lists(st.integers(1, 4), min_size=2, max_size=2),
        key_lengths=st.lists(st.integers(1, 5), min_size=2, max_size=2),
        seed=st.integers(0, 2**16),
    )
    def test_padding_never_changes_real_positions(self, query_lengths, key_lengths, seed):
        layer = MultiHeadAttention(num_heads=2, key_dim=2)
        layer(np.zeros((2, 4, 4), "float32"), np.zeros((2, 5, 4), "float32"))
        layer.set_weights(random_weights(layer, 0))
        rng = np.random.default_rng(seed)
        query = rng.normal(size=(2, 4, 4)).astype("float32")
        value = rng.normal(size=(2, 5, 4)).astype("float32")
        query_mask = padding_mask(query_lengths, 4)
        value_mask = padding_mask(key_lengths, 5)
        masks = {"query_mask": query_mask, "value_mask": value_mask}
        # Two different fillings of the padded positions, with large garbage.
        other_query = np.where(query_mask[..., None], query, rng.normal(size=query.shape) * 100)
        other_value = np.where(value_mask[..., None], value, rng.normal(size=value.shape) * 100)
        results = [
            to_numpy(layer(q, v, **masks))
            for q, v in (
                (query, value),
                (other_query.astype("float32"), other_value.astype("float32")),
            )
        ]
        results.append(to_numpy(layer(query, value, return_attention_scores=True, **masks)[0]))
        for result in results[1:]:
            np.testing.assert_allclose(result[query_mask], results[0][query_mask], atol=1e-5)
        for result in results:
            np.testing.assert_array_equal(result[~query_mask], 0.0)
        # And the real positions are those of the unpadded sequences.
        for b, (q, k) in enumerate(zip(query_lengths, key_lengths, strict=True)):
            alone, _ = reference.multi_head_attention(
                query[b : b + 1, :q],
                value[b : b + 1, :k],
                value[b : b + 1, :k],
                layer.get_weights(),
            )
            np.testing.assert_allclose(results[0][b, :q], alone[0], atol=1e-5, rtol=1e-5)

    @PROPERTY_SETTINGS
    @given(cut=st.integers(1, 4), constructor=st.booleans(), seed=st.integers(0, 2**16))
    def test_future_never_changes_the_past(self, cut, constructor, seed):
        # Positions < cut are the past; everything from `cut` on is replaced.
        layer = MultiHeadAttention(num_heads=2, key_dim=2, causal=constructor)
        call_kwargs = {} if constructor else {"use_causal_mask": True}
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(2, 5, 4)).astype("float32")
        changed = x.copy()
        changed[:, cut:] = rng.normal(size=changed[:, cut:].shape) * 10
        before = to_numpy(layer(x, x, **call_kwargs))
        after = to_numpy(layer(changed, changed, **call_kwargs))
        np.testing.assert_allclose(before[:, :cut], after[:, :cut], atol=1e-5, rtol=1e-5)
        self.assertFalse(np.allclose(before[:, cut:], after[:, cut:]))

    @PROPERTY_SETTINGS
    @given(cut=st.integers(1, 4), seed=st.integers(0, 2**16))
    def test_future_never_changes_the_past_with_padding(self, cut, seed):
        # With a padding mask the causal mask is merged into it, on both paths.
        layer = MultiHeadAttention(num_heads=2, key_dim=2, causal=True)
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(2, 5, 4)).astype("float32")
        mask = padding_mask([5, 4], 5)
        changed = x.copy()
        changed[:, cut:] = rng.normal(size=changed[:, cut:].shape) * 10
        for scores in (False, True):
            before, after = (
                layer(v, v, query_mask=mask, value_mask=mask, return_attention_scores=scores)
                for v in (x, changed)
            )
            before, after = (to_numpy(r[0] if scores else r) for r in (before, after))
            np.testing.assert_allclose(before[:, :cut], after[:, :cut], atol=1e-5, rtol=1e-5)

    def test_future_never_changes_the_past_with_scores(self):
        layer = MultiHeadAttention(num_heads=2, key_dim=2, causal=True)
        x, changed = random_inputs(45, (2, 5, 4), (2, 5, 4))
        changed[:, :2] = x[:, :2]
        before, before_scores = layer(x, x, return_attention_scores=True)
        after, _ = layer(changed, changed, return_attention_scores=True)
        # Query i gives key j > i no weight.
        upper = ~np.tril(np.ones((5, 5), bool))
        np.testing.assert_array_equal(to_numpy(before_scores)[:, :, upper], 0.0)
        self.assert_close(to_numpy(before)[:, :2], to_numpy(after)[:, :2])

    def test_future_never_changes_the_past_with_dropout(self):
        # Two layers with the same weights and seed draw the same dropout
        # masks, so only the inputs differ between them.
        x, changed = random_inputs(46, (2, 5, 4), (2, 5, 4))
        changed[:, :2] = x[:, :2]
        first, second = (
            MultiHeadAttention(num_heads=2, key_dim=2, causal=True, dropout=0.3, seed=4)
            for _ in range(2)
        )
        first(x, x)
        second(x, x)
        second.set_weights(first.get_weights())
        before = to_numpy(first(x, x, training=True))
        after = to_numpy(second(changed, changed, training=True))
        self.assert_close(before[:, :2], after[:, :2])


class GradientTest(TestCase):
    def check_gradient(self, **call_kwargs):
        with float64_enabled():
            layer = MultiHeadAttention(num_heads=2, key_dim=2, dtype="float64")
            x = np.random.default_rng(50).normal(size=(1, 3, 4))

            def fn(v):
                result = layer(v, v, **call_kwargs)
                return result[0] if call_kwargs.get("return_attention_scores") else result

            fn(x)
            layer.set_weights([w.astype("float64") for w in random_weights(layer, 50, 0.8)])
            analytic = input_gradient(fn, x)
            numeric = finite_difference_gradient(fn, x)
        self.assertGreater(np.abs(numeric).max(), 1e-3)
        np.testing.assert_allclose(analytic, numeric, atol=1e-6, rtol=1e-5)

    def test_gradient_explicit_path(self):
        self.check_gradient(return_attention_scores=True)

    def test_gradient_explicit_path_causal(self):
        self.check_gradient(return_attention_scores=True, use_causal_mask=True)

    def test_gradient_fused_path(self):
        self.check_gradient()


class DropoutTest(TestCase):
    def test_dropout_only_in_training(self):
        query, value = random_inputs(60, (2, 4, 6), (2, 6, 6))
        layer = MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.5, seed=1)
        plain = MultiHeadAttention(num_heads=2, key_dim=3)
        layer(query, value)
        plain(query, value)
        plain.set_weights(layer.get_weights())
        expected = to_numpy(plain(query, value))
        self.assert_close(layer(query, value, training=False), expected)
        self.assert_close(layer(query, value), expected)
        trained = to_numpy(layer(query, value, training=True))
        self.assertTrue(np.all(np.isfinite(trained)))
        self.assertFalse(np.allclose(trained, expected, atol=1e-3))
        # Scores are the weights before dropout, training or not.
        _, scores = layer(query, value, training=True, return_attention_scores=True)
        _, plain_scores = plain(query, value, return_attention_scores=True)
        self.assert_close(scores, plain_scores)

    def test_fused_and_explicit_paths_agree(self):
        query, value, key = random_inputs(61, (2, 4, 6), (2, 5, 6), (2, 5, 3))
        layer = MultiHeadAttention(num_heads=2, key_dim=3, causal=True)
        layer(query, value, key=key)
        layer.set_weights(random_weights(layer, 61))
        for call_kwargs in (
            {},
            {"query_mask": padding_mask([4, 2], 4), "value_mask": padding_mask([5, 1], 5)},
            {"attention_mask": np.random.default_rng(61).random((2, 4, 5)) < 0.5},
        ):
            fused = layer(query, value, key=key, **call_kwargs)
            explicit, _ = layer(query, value, key=key, return_attention_scores=True, **call_kwargs)
            self.assert_close(fused, explicit)


class ArgumentTest(TestCase):
    def test_bad_constructor_arguments(self):
        for kwargs, words in (
            ({"num_heads": 0, "key_dim": 2}, ("num_heads", "0")),
            ({"num_heads": 2, "key_dim": -1}, ("key_dim", "-1")),
            ({"num_heads": 2.0, "key_dim": 2}, ("num_heads", "2.0")),
            ({"num_heads": 2, "key_dim": 2, "value_dim": 0}, ("value_dim", "0")),
            ({"num_heads": 2, "key_dim": 2, "output_shape": (3, 4)}, ("output_shape", "(3, 4)")),
        ):
            with self.assertRaises(ValueError) as context:
                MultiHeadAttention(**kwargs)
            for word in words:
                self.assertIn(word, str(context.exception))

    def test_wrong_query_rank(self):
        layer = MultiHeadAttention(num_heads=2, key_dim=2)
        with self.assertRaisesRegex(ValueError, r"`query` of rank 3.*\(2, 4\)"):
            layer(np.zeros((2, 4), "float32"), np.zeros((2, 3, 4), "float32"))

    def test_key_and_value_lengths_differ(self):
        layer = MultiHeadAttention(num_heads=2, key_dim=2)
        query, value, key = random_inputs(70, (2, 3, 4), (2, 5, 4), (2, 6, 4))
        with self.assertRaisesRegex(ValueError, "key length 6 and value length 5"):
            layer(query, value, key=key)

    def test_wrong_attention_mask_shape(self):
        layer = MultiHeadAttention(num_heads=2, key_dim=2)
        query, value = random_inputs(71, (2, 3, 4), (2, 5, 4))
        with self.assertRaisesRegex(ValueError, r"`attention_mask` of shape \(2, 3, 4\)"):
            layer(query, value, attention_mask=np.ones((2, 3, 4), bool))

    def test_mask_shape_mismatch(self):
        layer = MultiHeadAttention(num_heads=2, key_dim=2)
        query, value = random_inputs(72, (2, 3, 4), (2, 5, 4))
        with self.assertRaisesRegex(ValueError, r"`query_mask` of shape \(2, 4\)"):
            layer(query, value, query_mask=np.ones((2, 4), bool))
        with self.assertRaisesRegex(ValueError, r"`value_mask` of shape \(2, 3\)"):
            layer(query, value, value_mask=np.ones((2, 3), bool))
