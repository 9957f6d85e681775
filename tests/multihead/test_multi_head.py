"""`kerastack.multihead.MultiHead`: the harness, parity with the copies run
alone (NumPy), masking, the diversity regularizer, serialization and argument
checks.

Letters: B batch, T length, D input width, C copies, F a copy's output width.
"""

import keras
import numpy as np

from kerastack.attention import SelfAttention
from kerastack.multihead import MultiHead
from tests.testing import TestCase, padding_mask, random_inputs, to_numpy

# Keras deserializes a *built* layer's config into a built layer (its
# `build_config`), and MultiHead.build then builds every copy again.


def randomize(layer, seed, scale=0.5):
    """Random values for every weight of a built layer (biases included)."""
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [(rng.normal(size=w.shape) * scale).astype("float32") for w in layer.get_weights()]
    )


def dense_config(units=3, **kwargs):
    """A `Dense` as a config: the harness makes several MultiHeads from one
    `init_kwargs`, and a layer instance becomes copy 0 of the one wrapping it."""
    return keras.layers.serialize(keras.layers.Dense(units, **kwargs))


def numpy_dense(copy, x):
    """A `Dense` copy applied in NumPy from its live weights."""
    return x @ to_numpy(copy.kernel) + to_numpy(copy.bias)


def numpy_diversity(rows, factor):
    """`factor * sum((W W^T - I)^2)` with one flattened weight per row."""
    stacked = np.stack([np.asarray(r, "float64").reshape(-1) for r in rows])  # (C, n)
    gram = stacked @ stacked.T  # (C, C)
    return factor * np.sum((gram - np.eye(len(rows))) ** 2)


def numpy_conv1d_same(x, kernel, bias):
    """Cross-correlation with `same` padding: `(B, T, D)`, kernel `(K, D, F)`."""
    size = kernel.shape[0]
    left = (size - 1) // 2
    padded = np.pad(x, ((0, 0), (left, size - 1 - left), (0, 0)))
    out = np.zeros(x.shape[:2] + (kernel.shape[-1],))
    for t in range(x.shape[1]):
        out[:, t] = np.einsum("bkd,kdf->bf", padded[:, t : t + size], kernel) + bias
    return out


class MultiHeadLayerTest(TestCase):
    # `run_mixed_precision_check=False`: the copies do not take MultiHead's
    # dtype policy (see `test_mixed_precision`, an expected failure).

    def test_concatenate(self):
        self.run_layer_test(
            MultiHead,
            init_kwargs={"layer": dense_config(3), "num_copies": 3},
            input_shape=(2, 5, 4),
            expected_output_shape=(2, 5, 9),
            expected_num_trainable_weights=6,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
            run_mixed_precision_check=False,
        )

    def test_stack(self):
        self.run_layer_test(
            MultiHead,
            init_kwargs={"layer": dense_config(3), "num_copies": 4, "merge": "stack"},
            input_shape=(2, 5, 4),
            expected_output_shape=(2, 5, 3, 4),
            expected_num_trainable_weights=8,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            supports_masking=True,
            run_mixed_precision_check=False,
        )

    def test_hidden_dim(self):
        # 2 copies x (kernel, bias) + the shared projection's kernel and bias.
        self.run_layer_test(
            MultiHead,
            init_kwargs={"layer": dense_config(3), "num_copies": 2, "hidden_dim": 2},
            input_shape=(2, 5, 4),
            expected_output_shape=(2, 5, 6),
            expected_num_trainable_weights=6,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            supports_masking=True,
            run_mixed_precision_check=False,
        )

    def test_hidden_dim_without_bias_and_diversity_loss(self):
        self.run_layer_test(
            MultiHead,
            init_kwargs={
                "layer": dense_config(3, use_bias=False),
                "num_copies": 3,
                "merge": "stack",
                "hidden_dim": 2,
                "use_bias": False,
                "diversity_weights": [0],
                "diversity_factor": 0.1,
            },
            input_shape=(2, 4),
            expected_output_shape=(2, 3, 3),
            expected_num_trainable_weights=4,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=1,
            supports_masking=True,
            run_mixed_precision_check=False,
        )

    def test_dropout_copies_each_have_a_seed_generator(self):
        self.run_layer_test(
            MultiHead,
            init_kwargs={
                "layer": keras.layers.serialize(keras.layers.Dropout(0.5)),
                "num_copies": 2,
            },
            input_shape=(2, 5, 4),
            expected_output_shape=(2, 5, 8),
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=2,
            supports_masking=True,
            run_training_check=False,  # nothing to train
            run_mixed_precision_check=False,
        )

    def test_mixed_precision(self):
        (x,) = random_inputs(0, (2, 5, 4))

        def make_layer(policy):
            return MultiHead(keras.layers.Dense(3), num_copies=2, hidden_dim=2, dtype=policy)

        self.run_precision_check(make_layer, (x,))


class ParityTest(TestCase):
    def test_concatenate_equals_numpy_of_each_copy(self):
        (x,) = random_inputs(1, (2, 5, 4))
        layer = MultiHead(keras.layers.Dense(3), num_copies=3)
        layer(x)
        randomize(layer, 1)
        heads = [numpy_dense(copy, x) for copy in layer.copies]
        self.assert_close(layer(x), np.concatenate(heads, axis=-1))
        # The copies differ: they do not share weights.
        self.assertFalse(np.allclose(heads[0], heads[1]))

    def test_stack_equals_numpy_of_each_copy(self):
        (x,) = random_inputs(2, (2, 5, 4))
        layer = MultiHead(keras.layers.Dense(3), num_copies=3, merge="stack")
        layer(x)
        randomize(layer, 2)
        heads = [numpy_dense(copy, x) for copy in layer.copies]
        self.assert_close(layer(x), np.stack(heads, axis=-1))

    def test_hidden_dim_projection_is_split_per_copy(self):
        (x,) = random_inputs(3, (2, 5, 4))
        layer = MultiHead(keras.layers.Dense(3), num_copies=3, hidden_dim=2)
        layer(x)
        randomize(layer, 3)
        projection = layer.projection
        self.assertEqual(tuple(projection.kernel.shape), (4, 6))
        projected = x @ to_numpy(projection.kernel) + to_numpy(projection.bias)  # (B, T, 6)
        heads = [
            numpy_dense(copy, projected[..., 2 * i : 2 * (i + 1)])
            for i, copy in enumerate(layer.copies)
        ]
        self.assert_close(layer(x), np.concatenate(heads, axis=-1))

    def test_list_of_conv1d_heads(self):
        (x,) = random_inputs(4, (2, 7, 3))
        heads = [keras.layers.Conv1D(2, size, padding="same") for size in (1, 3, 5)]
        layer = MultiHead(heads)
        self.assertEqual(layer.num_copies, 3)
        layer(x)
        randomize(layer, 4)
        expected = [
            numpy_conv1d_same(x, to_numpy(h.kernel), to_numpy(h.bias)) for h in layer.copies
        ]
        self.assertEqual(
            [tuple(h.kernel.shape) for h in layer.copies], [(1, 3, 2), (3, 3, 2), (5, 3, 2)]
        )
        self.assert_close(layer(x), np.concatenate(expected, axis=-1))
        # The heads are the given layers themselves.
        self.assertEqual([id(h) for h in layer.copies], [id(h) for h in heads])

    def test_list_of_heads_with_different_widths(self):
        (x,) = random_inputs(5, (2, 5, 4))
        layer = MultiHead([keras.layers.Dense(2), keras.layers.Dense(3)])
        self.assertEqual(tuple(layer(x).shape), (2, 5, 5))
        self.assertEqual(tuple(layer.compute_output_shape((2, 5, 4))), (2, 5, 5))
        symbolic = MultiHead([keras.layers.Dense(2), keras.layers.Dense(3)])(keras.Input((5, 4)))
        self.assertEqual(tuple(symbolic.shape), (None, 5, 5))

    def test_list_of_one_layer_is_one_head(self):
        (x,) = random_inputs(6, (2, 5, 4))
        layer = MultiHead([keras.layers.Dense(3)])
        self.assertEqual(layer.num_copies, 1)
        self.assertEqual(tuple(layer(x).shape), (2, 5, 3))


class MaskingTest(TestCase):
    def test_mask_reaches_recurrent_copies(self):
        x, garbage = random_inputs(10, (2, 5, 4), (2, 5, 4))
        mask = padding_mask([5, 3], 5)
        layer = MultiHead(keras.layers.GRU(3, return_sequences=True), num_copies=2)
        outputs = to_numpy(layer(x, mask=mask))
        # Garbage on the padded steps changes nothing on the real ones.
        noisy = np.where(mask[..., None], x, garbage * 10)
        self.assert_close(to_numpy(layer(noisy, mask=mask))[mask], outputs[mask])
        for b, length in enumerate((5, 3)):
            alone = [to_numpy(c(x[b : b + 1, :length]))[0] for c in layer.copies]
            self.assert_close(outputs[b, :length], np.concatenate(alone, axis=-1))
        np.testing.assert_array_equal(
            to_numpy(layer.compute_mask(x, keras.ops.convert_to_tensor(mask))), mask
        )

    def test_mask_reaches_self_attention_copies(self):
        (x,) = random_inputs(11, (2, 5, 4))
        mask = padding_mask([5, 2], 5)
        layer = MultiHead(SelfAttention(units=4), num_copies=2, merge="stack")
        outputs = to_numpy(layer(x, mask=mask))
        self.assertEqual(outputs.shape, (2, 5, 4, 2))
        for b, length in enumerate((5, 2)):
            alone = [to_numpy(c(x[b : b + 1, :length]))[0] for c in layer.copies]
            self.assert_close(outputs[b, :length], np.stack(alone, axis=-1))
        # SelfAttention gives zeros on padded queries; the mask is handed on.
        np.testing.assert_array_equal(outputs[~mask], 0.0)
        np.testing.assert_array_equal(
            to_numpy(layer.compute_mask(x, keras.ops.convert_to_tensor(mask))), mask
        )

    def test_mask_propagates_through_a_model(self):
        # Embedding(mask_zero) -> MultiHead(Dense) -> GlobalAveragePooling1D,
        # which averages only the real steps when the mask comes through.
        tokens = keras.Input((None,), dtype="int32")
        embedded = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
        layer = MultiHead(keras.layers.Dense(3), num_copies=2)
        pooled = keras.layers.GlobalAveragePooling1D()(layer(embedded))
        model = keras.Model(tokens, pooled)
        ids = np.array([[3, 4, 0, 0], [5, 6, 7, 0]], "int32")
        per_step = to_numpy(layer(model.layers[1](ids)))
        mask = ids != 0
        expected = (per_step * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        self.assert_close(model(ids), expected)

    def test_no_mask_support_when_a_copy_has_none(self):
        class Plain(keras.layers.Layer):
            def call(self, inputs):
                return inputs

        layer = MultiHead([keras.layers.Dense(2), Plain()])
        self.assertFalse(layer.supports_masking)
        self.assertIsNone(layer.compute_mask(np.zeros((1, 2, 3), "float32"), np.ones((1, 2), bool)))


class DiversityTest(TestCase):
    def copy_weights(self, layer, index):
        return [to_numpy(copy.trainable_weights[index]) for copy in layer.copies]

    def test_loss_equals_numpy(self):
        (x,) = random_inputs(20, (2, 4))
        layer = MultiHead(
            keras.layers.Dense(3), num_copies=3, diversity_weights=[0], diversity_factor=0.1
        )
        layer(x)
        randomize(layer, 20)
        layer(x)
        self.assertLen(layer.losses, 1)
        expected = numpy_diversity(self.copy_weights(layer, 0), 0.1)
        self.assert_close(layer.losses[0], expected)

    def test_slices_and_factor_list(self):
        (x,) = random_inputs(21, (2, 5))
        layer = MultiHead(
            keras.layers.Dense(4),
            num_copies=3,
            merge="stack",
            diversity_weights=[[0, [[1, 4], [None]]], [-1, [[0, 4, 2]]], 0],
            diversity_factor=[0.5, 2.0, 0.0],
        )
        layer(x)
        randomize(layer, 21)
        layer(x)
        kernels = self.copy_weights(layer, 0)
        biases = self.copy_weights(layer, 1)
        expected = numpy_diversity([k[1:4, :] for k in kernels], 0.5) + numpy_diversity(
            [b[0:4:2] for b in biases], 2.0
        )
        self.assertLen(layer.losses, 1)
        self.assert_close(layer.losses[0], expected)

    def test_zero_factor_adds_no_loss(self):
        (x,) = random_inputs(22, (2, 4))
        layer = MultiHead(keras.layers.Dense(3), num_copies=2, diversity_weights=[0])
        layer(x)
        self.assertLen(layer.losses, 0)

    def test_loss_follows_the_live_weights(self):
        (x,) = random_inputs(23, (2, 4))
        layer = MultiHead(
            keras.layers.Dense(3), num_copies=2, diversity_weights=[0], diversity_factor=1.0
        )
        layer(x)
        before = float(to_numpy(layer.losses[0]))
        randomize(layer, 23, scale=2.0)
        layer(x)
        after = float(to_numpy(layer.losses[0]))
        self.assertNotAlmostEqual(before, after, places=3)
        self.assert_close(after, numpy_diversity(self.copy_weights(layer, 0), 1.0))

    def test_training_step_follows_the_regularizer_gradient(self):
        # The data loss is 0 * sum(y): SGD moves the weights by the regularizer
        # alone. d/dW factor * sum((W W^T - I)^2) = 4 factor (W W^T - I) W,
        # rows of W being the flattened kernels; biases get no gradient.
        inputs = keras.Input((4,))
        layer = MultiHead(
            keras.layers.Dense(3), num_copies=3, diversity_weights=[0], diversity_factor=0.2
        )
        model = keras.Model(inputs, layer(inputs))
        randomize(layer, 24, scale=0.4)
        kernels = np.stack([k.reshape(-1) for k in self.copy_weights(layer, 0)])  # (C, 12)
        biases = self.copy_weights(layer, 1)
        learning_rate = 0.05
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate),
            loss=lambda y_true, y_pred: keras.ops.sum(y_pred) * 0.0,
        )
        (x,) = random_inputs(24, (2, 4))
        model.fit(x, np.zeros((2, 9), "float32"), epochs=1, batch_size=2, verbose=0)
        gram = kernels @ kernels.T
        expected = kernels - learning_rate * 4 * 0.2 * (gram - np.eye(3)) @ kernels
        actual = np.stack([k.reshape(-1) for k in self.copy_weights(layer, 0)])
        self.assertFalse(np.allclose(actual, kernels))
        self.assert_close(actual, expected)
        for before, after in zip(biases, self.copy_weights(layer, 1), strict=True):
            np.testing.assert_array_equal(before, after)


class SerializationTest(TestCase):
    def assert_config_round_trip(self, layer):
        config = layer.get_config()
        revived = MultiHead.from_config(config)
        self.assertEqual(revived.get_config(), config)
        return revived

    def test_config_round_trip(self):
        layer = MultiHead(
            keras.layers.Dense(3),
            num_copies=3,
            merge="stack",
            hidden_dim=2,
            use_bias=False,
            kernel_initializer="he_normal",
            diversity_weights=[0, [1, [[0, 2]]]],
            diversity_factor=[0.1, 0.3],
        )
        config = layer.get_config()
        for name, value in {
            "num_copies": 3,
            "merge": "stack",
            "hidden_dim": 2,
            "use_bias": False,
            "diversity_weights": [0, [1, [[0, 2]]]],
            "diversity_factor": [0.1, 0.3],
        }.items():
            self.assertEqual(config[name], value, name)
        revived = self.assert_config_round_trip(layer)
        self.assertIsInstance(revived.layer, keras.layers.Dense)

    def test_config_round_trip_self_attention_and_list(self):
        revived = self.assert_config_round_trip(
            MultiHead(SelfAttention(units=5, attention_type="multiplicative"), num_copies=2)
        )
        self.assertIsInstance(revived.layer, SelfAttention)
        self.assertEqual(revived.layer.attention_type, "multiplicative")
        revived = self.assert_config_round_trip(
            MultiHead([keras.layers.Conv1D(2, size, padding="same") for size in (1, 3)])
        )
        self.assertEqual([c.kernel_size for c in revived.copies], [(1,), (3,)])

    def test_config_round_trip_of_a_built_layer(self):
        (x,) = random_inputs(30, (2, 5, 4))
        layer = MultiHead(keras.layers.Dense(3), num_copies=2)
        layer(x)
        revived = MultiHead.from_config(layer.get_config())
        revived(x)
        revived.set_weights(layer.get_weights())
        self.assert_close(revived(x), layer(x))

    def test_keras_round_trip(self):
        inputs = keras.Input((5, 4))
        outputs = MultiHead(
            keras.layers.Dense(3),
            num_copies=3,
            hidden_dim=2,
            diversity_weights=[0],
            diversity_factor=0.1,
        )(inputs)
        model = keras.Model(inputs, outputs)
        (x,) = random_inputs(31, (2, 5, 4))
        restored = self.run_save_load_check(model, x)
        self.assertEqual(restored.layers[1].hidden_dim, 2)

    def test_keras_round_trip_list_of_layers(self):
        inputs = keras.Input((7, 3))
        heads = [keras.layers.Conv1D(2, size, padding="same") for size in (1, 3, 5)]
        model = keras.Model(inputs, MultiHead(heads)(inputs))
        (x,) = random_inputs(32, (2, 7, 3))
        self.run_save_load_check(model, x)

    def test_keras_round_trip_self_attention(self):
        tokens = keras.Input((None,), dtype="int32")
        x = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
        x = MultiHead(SelfAttention(units=4), num_copies=2)(x)
        model = keras.Model(tokens, keras.layers.GlobalAveragePooling1D()(x))
        ids = np.array([[1, 2, 3, 0], [4, 5, 0, 0]], "int32")
        self.run_save_load_check(model, ids)


class ArgumentTest(TestCase):
    def test_bad_arguments(self):
        dense = keras.layers.Dense
        for kwargs, words in (
            ({"layer": "dense"}, ("`layer`", "'dense'")),
            ({"layer": [dense(2), 3]}, ("`layer`", "3")),
            ({"layer": dense(2), "num_copies": 0}, ("num_copies=0",)),
            ({"layer": dense(2), "num_copies": 1.5}, ("num_copies=1.5",)),
            ({"layer": dense(2), "merge": "sum"}, ("merge='sum'",)),
            ({"layer": dense(2), "hidden_dim": 0}, ("hidden_dim=0",)),
            (
                {"layer": dense(2), "diversity_weights": [0], "diversity_factor": -0.1},
                ("diversity_factor=-0.1",),
            ),
            (
                {"layer": dense(2), "diversity_weights": [0, 1], "diversity_factor": [0.1]},
                ("diversity_factor=[0.1]", "2 weights"),
            ),
            ({"layer": dense(2), "diversity_weights": ["kernel"]}, ("'kernel'",)),
            (
                {"layer": dense(2), "diversity_weights": [[0, [[1, 2, 3, 4]]]]},
                ("[1, 2, 3, 4]",),
            ),
        ):
            with self.assertRaises(ValueError, msg=str(kwargs)) as context:
                MultiHead(**kwargs)
            for word in words:
                self.assertIn(word, str(context.exception))

    def test_diversity_index_out_of_range(self):
        layer = MultiHead(
            keras.layers.Dense(2), num_copies=2, diversity_weights=[2], diversity_factor=0.1
        )
        with self.assertRaisesRegex(ValueError, "weight 2.*2 trainable weights"):
            layer(np.zeros((1, 3), "float32"))
