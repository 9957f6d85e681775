"""`PositionEmbedding`: harness, golden values, NumPy parity, start_index
(Python int, tensor, traced in a loop), masking, precision, saving and
argument checks.

Letters: B batch, T sequence length, D feature size.
"""

import keras
import numpy as np
import pytest
from absl.testing import parameterized

from kerastack.position import PositionEmbedding
from tests import goldens
from tests.position import reference
from tests.position.helpers import PADDED_IDS, decode_step_by_step, mask_model
from tests.testing import TestCase, to_numpy


def make_layer(max_sequence_length=8, features=4, seed=0, **kwargs):
    layer = PositionEmbedding(max_sequence_length, **kwargs)
    layer.build((None, None, features))
    table = np.random.default_rng(seed).normal(size=(max_sequence_length, features))
    layer.set_weights([table.astype("float32")])
    return layer, table


class PositionEmbeddingLayerTest(TestCase):
    @parameterized.named_parameters(
        ("full_length", 5, {}),
        ("shifted", 8, {"start_index": 3}),
    )
    def test_layer(self, max_sequence_length, call_kwargs):
        self.run_layer_test(
            PositionEmbedding,
            init_kwargs={"max_sequence_length": max_sequence_length},
            input_shape=(2, 5, 4),
            call_kwargs=call_kwargs,
            expected_output_shape=(2, 5, 4),
            expected_num_trainable_weights=1,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
        )

    def test_weight(self):
        layer = PositionEmbedding(7)
        layer.build((2, 5, 3))
        self.assertEqual(layer.embeddings.path, "position_embedding/embeddings")
        self.assertEqual(tuple(layer.embeddings.shape), (7, 3))

    def test_config_round_trip(self):
        layer = PositionEmbedding(16, initializer="ones", name="positions")
        config = layer.get_config()
        self.assertEqual(config["max_sequence_length"], 16)
        restored = PositionEmbedding.from_config(config)
        self.assertEqual(restored.get_config(), config)
        restored.build((1, 2, 3))
        np.testing.assert_array_equal(to_numpy(restored.embeddings), np.ones((16, 3)))

    def test_save_load(self):
        inputs = keras.Input((None,), dtype="int32")
        tokens = keras.layers.Embedding(10, 4, mask_zero=True)(inputs)
        positions = PositionEmbedding(6, name="positions")(tokens)
        x = keras.layers.Add()([tokens, positions])
        outputs = keras.layers.Dense(2)(x)
        model = keras.Model(inputs, outputs)
        ids = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 9]], "int32")
        restored = self.run_save_load_check(model, ids)
        self.assertIsInstance(restored.get_layer("positions"), PositionEmbedding)

    @parameterized.named_parameters(("shifted", 3))
    def test_precision(self, start_index):
        x = np.random.default_rng(1).normal(size=(2, 4, 3)).astype("float32")

        def make(policy):
            return PositionEmbedding(8, dtype=policy)

        self.run_precision_check(make, (x,), {"start_index": start_index})


def test_golden_values():
    layer = PositionEmbedding(4)
    layer.build((None, None, 3))
    table = goldens.POSITION_TABLE
    layer.set_weights([table])
    x = np.full((2, 2, 3), 100.0, "float32")  # values are never read
    expected = [goldens.POSITION_ROWS_1_2] * 2  # rows 1 and 2
    np.testing.assert_array_equal(to_numpy(layer(x, start_index=1)), expected)
    np.testing.assert_array_equal(to_numpy(layer(x[:, :1])), [[[0, 1, 2]]] * 2)
    np.testing.assert_array_equal(to_numpy(layer(np.zeros((1, 4, 3))))[0], table)


@pytest.mark.parametrize("start_index", [0, 2, 5])
@pytest.mark.parametrize("shape", [(3, 3, 4), (2, 1, 4), (3, 2, 3, 4)])
def test_parity_with_reference(shape, start_index):
    layer, table = make_layer()
    x = np.zeros(shape, "float32")
    expected = reference.position_embedding(table, shape, start_index)
    actual = to_numpy(layer(x, start_index=start_index))
    assert actual.shape == shape
    np.testing.assert_allclose(actual, expected, atol=1e-6, rtol=1e-6)


def test_tensor_start_index():
    layer, table = make_layer()
    x = np.zeros((2, 3, 4), "float32")
    for start in range(6):
        start_index = keras.ops.convert_to_tensor(start, "int32")
        np.testing.assert_array_equal(
            to_numpy(layer(x, start_index=start_index)), to_numpy(layer(x, start_index=start))
        )


def test_position_ids_pick_rows_of_the_table():
    layer, table = make_layer()
    x = np.zeros((2, 4, 4), "float32")
    ids = np.array([[0, 1, 0, 1], [7, 2, 5, 3]], "int32")  # two packed rows
    np.testing.assert_allclose(to_numpy(layer(x, position_ids=ids)), table[ids], atol=1e-6)
    # One row of ids serves the whole batch; a tensor of ids gives the same.
    np.testing.assert_allclose(
        to_numpy(layer(x, position_ids=keras.ops.convert_to_tensor(ids[1]))),
        np.broadcast_to(table[ids[1]], (2, 4, 4)),
        atol=1e-6,
    )


def test_position_ids_traced_inside_a_compiled_function():
    layer, table = make_layer()
    x = np.zeros((1, 3, 4), "float32")
    ids = np.array([[6, 0, 3]], "int32")
    outputs = keras.ops.fori_loop(0, 1, lambda i, y: layer(x, position_ids=ids + i * 0), x)
    np.testing.assert_allclose(to_numpy(outputs), table[ids], atol=1e-6)


@pytest.mark.parametrize("bad", [[[0, 8, 1]], [[-1, 0, 1]]])
def test_position_ids_outside_the_table(bad):
    layer, _ = make_layer()
    with pytest.raises(ValueError, match=r"position_ids.*\[0, 8\)"):
        layer(np.zeros((1, 3, 4), "float32"), position_ids=np.array(bad, "int32"))


def test_decoding_step_by_step_matches_the_full_pass():
    # start_index traced inside ops.fori_loop (compiled on JAX), as in a
    # cached decoding loop.
    layer, _ = make_layer()
    x = np.random.default_rng(2).normal(size=(2, 6, 4)).astype("float32")
    full = to_numpy(layer(x))
    np.testing.assert_array_equal(decode_step_by_step(layer, x), full)


def test_mask_passes_through():
    ids = PADDED_IDS
    model = mask_model(lambda: PositionEmbedding(8))
    mask = to_numpy(model(ids))
    np.testing.assert_array_equal(mask, ids != 0)
    layer = PositionEmbedding(4)
    previous = np.array([[True, False]])
    assert layer.compute_mask(np.zeros((1, 2, 3)), previous) is previous


def test_output_dtype_under_mixed_precision():
    layer = PositionEmbedding(4, dtype="mixed_bfloat16")
    outputs = layer(np.zeros((1, 3, 2), "float32"))
    assert keras.backend.standardize_dtype(outputs.dtype) == "bfloat16"
    assert keras.backend.standardize_dtype(layer.embeddings.dtype) == "float32"


@pytest.mark.parametrize("value", [0, -3, 2.5, "8", None, True])
def test_bad_max_sequence_length(value):
    with pytest.raises(ValueError, match=rf"max_sequence_length={value!r}"):
        PositionEmbedding(value)


def test_numpy_int_max_sequence_length():
    layer = PositionEmbedding(np.int64(5))
    assert layer.get_config()["max_sequence_length"] == 5
    assert type(layer.max_sequence_length) is int


def test_too_long_sequence():
    layer = PositionEmbedding(4)
    with pytest.raises(ValueError, match=r"max_sequence_length=4.*length 6"):
        layer(np.zeros((1, 6, 2), "float32"))
    with pytest.raises(ValueError, match=r"max_sequence_length=4.*length 5"):
        PositionEmbedding(4)(keras.Input((5, 2)))
    layer(np.zeros((1, 4, 2), "float32"))  # built; a later long call still fails
    with pytest.raises(ValueError, match=r"max_sequence_length=4.*length 7"):
        layer(np.zeros((1, 7, 2), "float32"))


def test_positions_past_the_table():
    layer = PositionEmbedding(4)
    x = np.zeros((1, 2, 2), "float32")
    with pytest.raises(ValueError, match=r"start_index=3 to 4.*max_sequence_length=4"):
        layer(x, start_index=3)
    with pytest.raises(ValueError, match=r"start_index=-1"):
        layer(x, start_index=-1)


def test_bad_input_rank():
    with pytest.raises(ValueError, match=r"rank >= 2.*\(3,\)"):
        PositionEmbedding(4)(np.zeros((3,), "float32"))
