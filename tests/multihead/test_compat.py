"""`kerastack.multihead.compat`: keras-multi-head's `MultiHeadAttention` and
`MultiHead`, their old arguments, weights layout and configs.

Letters: B batch, T query length, S key/value length, D value width (the old
layers' `feature_dim`), N `head_num`, H = D // N.
"""

import keras
import numpy as np

from kerastack.multihead import compat
from tests import reference
from tests.testing import TestCase, padding_mask, random_inputs, to_numpy


def relu(x):
    return np.maximum(x, 0.0)


def old_weights(seed, query_dim, key_dim, value_dim):
    """keras-multi-head 0.29's 2-D weights `[Wq, bq, Wk, bk, Wv, bv, Wo, bo]`,
    every kernel `(input width, D)` with D the value width."""
    rng = np.random.default_rng(seed)
    weights = []
    for rows in (query_dim, key_dim, value_dim, value_dim):
        weights.append(rng.normal(size=(rows, value_dim)).astype("float32") * 0.5)
        weights.append(rng.normal(size=(value_dim,)).astype("float32") * 0.5)
    return weights


def keras_layout(weights, head_num):
    """The old 2-D weights in the reference's Keras layout."""
    return reference.keras_layout_from_legacy(weights, head_num)


class LegacyMultiHeadAttentionTest(TestCase):
    def make_layer(self, seed, inputs, query_dim, key_dim, value_dim, **kwargs):
        layer = compat.MultiHeadAttention(**kwargs)
        layer(inputs)
        weights = old_weights(seed, query_dim, key_dim, value_dim)
        layer.set_weights(weights)
        return layer, weights

    def test_self_attention_matches_reference_with_relu(self):
        (x,) = random_inputs(0, (2, 4, 6))
        layer, weights = self.make_layer(0, x, 6, 6, 6, head_num=2)
        self.assertEqual(layer.key_dim, 3)
        expected, _ = reference.multi_head_attention(
            x, x, x, keras_layout(weights, 2), activation=relu
        )
        self.assert_close(layer(x), expected)

    def test_query_key_value_list_with_different_widths(self):
        query, key, value = random_inputs(1, (2, 2, 3), (2, 4, 5), (2, 4, 6))
        layer, weights = self.make_layer(1, [query, key, value], 3, 5, 6, head_num=3)
        outputs = layer([query, key, value])
        self.assertEqual(tuple(outputs.shape), (2, 2, 6))
        self.assertEqual(
            tuple(layer.compute_output_shape([(2, 2, 3), (2, 4, 5), (2, 4, 6)])), (2, 2, 6)
        )
        expected, _ = reference.multi_head_attention(
            query, value, key, keras_layout(weights, 3), activation=relu
        )
        self.assert_close(outputs, expected)

    def test_get_weights_returns_the_old_shapes(self):
        query, key, value = random_inputs(2, (2, 2, 3), (2, 4, 5), (2, 4, 6))
        layer, weights = self.make_layer(2, [query, key, value], 3, 5, 6, head_num=3)
        returned = layer.get_weights()
        self.assertEqual(
            [w.shape for w in returned],
            [(3, 6), (6,), (5, 6), (6,), (6, 6), (6,), (6, 6), (6,)],
        )
        for actual, expected in zip(returned, weights, strict=True):
            np.testing.assert_array_equal(actual, expected)
        # The variables themselves are the old 2-D ones (old .h5 files load as they are).
        self.assertEqual(tuple(layer.query_dense.kernel.shape), (3, 6))
        self.assertEqual(tuple(layer.output_dense.kernel.shape), (6, 6))

    def test_set_weights_rejects_bad_weights(self):
        (x,) = random_inputs(3, (1, 2, 4))
        layer = compat.MultiHeadAttention(head_num=2)
        layer(x)
        weights = old_weights(3, 4, 4, 4)
        with self.assertRaisesRegex(ValueError, "length 7.*expecting 8"):
            layer.set_weights(weights[:7])
        with self.assertRaisesRegex(ValueError, r"\(5, 4\)"):
            layer.set_weights([np.zeros((5, 4), "float32")] + weights[1:])

    def test_activation_none_and_no_bias(self):
        (x,) = random_inputs(4, (2, 3, 4))
        layer = compat.MultiHeadAttention(head_num=2, activation=None, use_bias=False)
        layer(x)
        weights = old_weights(4, 4, 4, 4)[::2]  # kernels only
        layer.set_weights(weights)
        full = []
        for kernel in weights:
            full += [kernel, np.zeros(kernel.shape[1], "float32")]
        expected, _ = reference.multi_head_attention(x, x, x, keras_layout(full, 2))
        self.assert_close(layer(x), expected)

    def test_masks(self):
        query, key, value = random_inputs(5, (2, 3, 4), (2, 5, 4), (2, 5, 4))
        layer, weights = self.make_layer(5, [query, key, value], 4, 4, 4, head_num=2)
        query_mask = padding_mask([3, 2], 3)
        key_mask = padding_mask([5, 2], 5)
        outputs = to_numpy(layer([query, key, value], mask=[query_mask, key_mask, key_mask]))
        # As keras-multi-head: only the keys are masked; a padded query attends
        # to the real keys too.
        allowed = np.broadcast_to(key_mask[:, None, None, :], (2, 1, 3, 5))
        expected, _ = reference.multi_head_attention(
            query, value, key, keras_layout(weights, 2), allowed=allowed, activation=relu
        )
        self.assert_close(outputs, expected)
        np.testing.assert_array_equal(
            to_numpy(layer.compute_mask([query, key, value], [query_mask, key_mask, key_mask])),
            query_mask,
        )

    def test_mask_propagates_in_a_model(self):
        # Embedding(mask_zero) -> MultiHeadAttention -> GlobalAveragePooling1D.
        tokens = keras.Input((None,), dtype="int32")
        embedded = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
        layer = compat.MultiHeadAttention(head_num=2)
        model = keras.Model(tokens, keras.layers.GlobalAveragePooling1D()(layer(embedded)))
        ids = np.array([[3, 4, 0], [5, 6, 7]], "int32")
        mask = ids != 0
        x = to_numpy(model.layers[1](ids))
        per_step = to_numpy(layer(x, mask=mask))
        expected = (per_step * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        self.assert_close(model(ids), expected)

    def test_history_only_is_causal(self):
        (x,) = random_inputs(6, (2, 5, 4))
        layer, weights = self.make_layer(6, x, 4, 4, 4, head_num=2, history_only=True)
        self.assertTrue(layer.causal)
        causal = np.tril(np.ones((5, 5), bool))[None, None]
        expected, _ = reference.multi_head_attention(
            x, x, x, keras_layout(weights, 2), allowed=causal, activation=relu
        )
        outputs = to_numpy(layer(x))
        self.assert_close(outputs, expected)
        # The future never changes the past.
        changed = x.copy()
        changed[:, 3:] = 10.0
        self.assert_close(to_numpy(layer(changed))[:, :3], outputs[:, :3])

    def test_value_width_not_divisible(self):
        with self.assertRaisesRegex(ValueError, r"head_num=4.*\(2, 3, 6\)"):
            compat.MultiHeadAttention(head_num=4)(np.zeros((2, 3, 6), "float32"))
        query, key, value = random_inputs(7, (2, 2, 4), (2, 3, 4), (2, 3, 5))
        with self.assertRaisesRegex(ValueError, "head_num=2"):
            compat.MultiHeadAttention(head_num=2)([query, key, value])

    def test_get_config(self):
        layer = compat.MultiHeadAttention(
            head_num=3, activation="tanh", use_bias=False, history_only=True
        )
        config = layer.get_config()
        base = set(keras.layers.Layer(name="x").get_config())
        self.assertEqual(
            set(config) - base,
            {
                "head_num",
                "activation",
                "use_bias",
                "kernel_initializer",
                "bias_initializer",
                "kernel_regularizer",
                "bias_regularizer",
                "kernel_constraint",
                "bias_constraint",
                "history_only",
            },
        )
        self.assertEqual(
            (config["head_num"], config["activation"], config["use_bias"], config["history_only"]),
            (3, "tanh", False, True),
        )
        revived = compat.MultiHeadAttention.from_config(config)
        self.assertEqual(revived.get_config(), config)
        self.assertEqual(revived.activation, keras.activations.tanh)
        # A built layer's config revives too, and computes the same.
        (x,) = random_inputs(8, (2, 4, 6))
        layer(x)
        revived = compat.MultiHeadAttention.from_config(layer.get_config())
        revived(x)
        revived.set_weights(layer.get_weights())
        self.assert_close(revived(x), layer(x))

    def test_default_activation_is_relu(self):
        self.assertEqual(compat.MultiHeadAttention(head_num=1).get_config()["activation"], "relu")

    def test_keras_round_trip(self):
        tokens = keras.Input((None,), dtype="int32")
        x = keras.layers.Embedding(20, 6, mask_zero=True)(tokens)
        x = compat.MultiHeadAttention(head_num=2, history_only=True)(x)
        model = keras.Model(tokens, keras.layers.Dense(3)(x))
        ids = np.array([[3, 7, 1, 0], [5, 2, 9, 4]], "int32")
        restored = self.run_save_load_check(model, ids)
        self.assertIsInstance(restored.layers[2], compat.MultiHeadAttention)


class LegacyMultiHeadTest(TestCase):
    def readme_layer(self):
        # The example from keras-multi-head's README.
        return compat.MultiHead(
            keras.layers.Bidirectional(keras.layers.LSTM(16)),
            layer_num=5,
            reg_index=[1, 4],
            reg_slice=(slice(None, None), slice(32, 48)),
            reg_factor=0.1,
        )

    def test_stacks_on_a_new_last_axis(self):
        (x,) = random_inputs(10, (2, 4, 6))
        layer = compat.MultiHead(keras.layers.Dense(3), layer_num=5)
        outputs = layer(x)
        self.assertEqual(tuple(outputs.shape), (2, 4, 3, 5))
        self.assertEqual(tuple(layer.compute_output_shape((2, 4, 6))), (2, 4, 3, 5))
        expected = [x @ to_numpy(c.kernel) + to_numpy(c.bias) for c in layer.copies]
        self.assert_close(outputs, np.stack(expected, axis=-1))
        self.assertEqual(layer.merge, "stack")
        self.assertEqual(layer.layer_num, 5)

    def test_default_is_one_copy(self):
        (x,) = random_inputs(11, (2, 6))
        layer = compat.MultiHead(keras.layers.Dense(3))
        self.assertEqual(tuple(layer(x).shape), (2, 3, 1))

    def test_hidden_dim_builds_copies_for_hidden_dim(self):
        (x,) = random_inputs(12, (2, 6))
        layer = compat.MultiHead(keras.layers.Dense(3), layer_num=2, hidden_dim=4)
        self.assertEqual(tuple(layer(x).shape), (2, 3, 2))
        self.assertEqual([tuple(c.kernel.shape) for c in layer.copies], [(4, 3), (4, 3)])

    def test_readme_example_adds_the_regularizer(self):
        (x,) = random_inputs(13, (2, 7, 8))
        layer = self.readme_layer()
        outputs = layer(x)
        self.assertEqual(tuple(outputs.shape), (2, 32, 5))
        self.assertLen(layer.losses, 1)
        # Weights 1 and 4 of Bidirectional(LSTM(16)): the forward and backward
        # recurrent kernels, (16, 64); columns 32:48 are the cell candidate's.
        expected = 0.0
        for index in (1, 4):
            rows = []
            for copy in layer.copies:
                weight = to_numpy(copy.trainable_weights[index])
                self.assertEqual(weight.shape, (16, 64))
                rows.append(weight[:, 32:48].astype("float64").reshape(-1))
            stacked = np.stack(rows)  # (5, 256)
            expected += 0.1 * np.sum((stacked @ stacked.T - np.eye(5)) ** 2)
        self.assert_close(layer.losses[0], expected, rtol=1e-5)

    def test_reg_index_int_and_single_slice(self):
        (x,) = random_inputs(14, (2, 4))
        layer = compat.MultiHead(
            keras.layers.Dense(6), layer_num=3, reg_index=1, reg_slice=slice(1, 5), reg_factor=0.5
        )
        layer(x)
        rng = np.random.default_rng(14)
        for copy in layer.copies:
            copy.bias.assign(rng.normal(size=6).astype("float32"))
        layer(x)
        biases = np.stack([to_numpy(c.bias)[1:5] for c in layer.copies])
        expected = 0.5 * np.sum((biases @ biases.T - np.eye(3)) ** 2)
        self.assert_close(layer.losses[0], expected)

    def test_get_config_round_trip(self):
        layer = self.readme_layer()
        config = layer.get_config()
        for name in ("num_copies", "merge", "diversity_weights", "diversity_factor"):
            self.assertNotIn(name, config)
        self.assertEqual(config["layer_num"], 5)
        self.assertEqual(config["reg_index"], [1, 4])
        self.assertEqual(config["reg_slice"], [[[None, None, None], [32, 48, None]]] * 2)
        self.assertEqual(config["reg_factor"], [0.1, 0.1])
        revived = compat.MultiHead.from_config(config)
        self.assertEqual(revived.get_config(), config)
        self.assertIsInstance(revived.layer, keras.layers.Bidirectional)

    def test_revived_config_regularizes_the_same_weights(self):
        # Per-index slices and factors, revived from the saved (list) form.
        layer = compat.MultiHead(
            keras.layers.Dense(6),
            layer_num=3,
            reg_index=[0, 1],
            reg_slice=[(slice(None), slice(1, 4)), slice(0, 6, 2)],
            reg_factor=[0.1, 0.2],
        )
        revived = compat.MultiHead.from_config(layer.get_config())
        self.assertEqual(revived.get_config(), layer.get_config())
        (x,) = random_inputs(15, (2, 4))
        layer(x)
        rng = np.random.default_rng(15)
        layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()])
        layer(x)
        revived(x)
        revived.set_weights(layer.get_weights())
        revived(x)
        kernels = [to_numpy(c.kernel)[:, 1:4].reshape(-1) for c in layer.copies]
        biases = [to_numpy(c.bias)[0:6:2] for c in layer.copies]
        expected = sum(
            factor * np.sum((np.stack(rows) @ np.stack(rows).T - np.eye(3)) ** 2)
            for rows, factor in ((kernels, 0.1), (biases, 0.2))
        )
        self.assert_close(layer.losses[0], expected)
        self.assert_close(revived.losses[0], expected)

    def test_keras_round_trip(self):
        # Bidirectional only builds unbuilt sublayers, so it survives the
        # rebuild that breaks MultiHead(Dense) round trips (test_multi_head.py).
        # The README layer, smaller: LSTM(4)'s cell-candidate columns are 8:12.
        inputs = keras.Input((3, 2))
        layer = compat.MultiHead(
            keras.layers.Bidirectional(keras.layers.LSTM(4)),
            layer_num=2,
            reg_index=[1, 4],
            reg_slice=(slice(None, None), slice(8, 12)),
            reg_factor=0.1,
        )
        model = keras.Model(inputs, layer(inputs))
        (x,) = random_inputs(16, (2, 3, 2))
        restored = self.run_save_load_check(model, x)
        revived = restored.layers[1]
        self.assertIsInstance(revived, compat.MultiHead)
        self.assertEqual((revived.layer_num, revived.reg_index), (2, [1, 4]))
        self.assertEqual(revived.reg_slice, [[[None, None, None], [8, 12, None]]] * 2)

    def test_get_custom_objects(self):
        objects = compat.get_custom_objects()
        self.assertEqual(
            objects,
            {"MultiHead": compat.MultiHead, "MultiHeadAttention": compat.MultiHeadAttention},
        )
        # An old config, by its old class name, revives as the compat layer.
        old = {"class_name": "MultiHeadAttention", "config": {"name": "mha", "head_num": 2}}
        layer = keras.layers.deserialize(old, custom_objects=objects)
        self.assertIsInstance(layer, compat.MultiHeadAttention)
        self.assertEqual(layer.head_num, 2)
        old = {
            "class_name": "MultiHead",
            "config": {"layer": keras.layers.serialize(keras.layers.Dense(2)), "layer_num": 3},
        }
        layer = keras.layers.deserialize(old, custom_objects=objects)
        self.assertIsInstance(layer, compat.MultiHead)
        self.assertEqual(layer.num_copies, 3)


def test_a_width_head_num_does_not_divide_is_both_errors_it_was():
    """keras-multi-head raised IndexError; kerastack's error is a ValueError
    too, so old `except IndexError` clauses keep working."""
    import pytest

    for error in (IndexError, ValueError):
        with pytest.raises(error, match="divisible by head_num=3"):
            compat.MultiHeadAttention(head_num=3)(np.zeros((1, 2, 8), "float32"))
