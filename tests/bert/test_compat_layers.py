"""keras-bert's small layers in kerastack.bert.compat (Extract, MaskedConv1D,
MaskedGlobalMaxPool1D, TaskEmbedding, get_inputs) against NumPy and Keras's
own Conv1D with the same weights, their masks, and a .keras round trip."""

import os
import tempfile

import numpy as np
import pytest

from kerastack.bert import compat
from kerastack.core import keras, ops
from tests.tolerances import FLOAT32_ATOL, SAVE_ATOL

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 5, 4)).astype("float32")
MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)


def _mask_after(layer_output_of):
    """The Keras mask a functional graph gives the layer's output (None if none)."""
    ids = keras.Input((5,), dtype="int32")
    embedded = keras.layers.Embedding(9, 4, mask_zero=True)(ids)
    output = layer_output_of(embedded)
    return getattr(output, "_keras_mask", None)


@pytest.mark.parametrize("index", [0, -1, 2])
def test_extract_is_one_position_and_drops_the_mask(index):
    np.testing.assert_array_equal(ops.convert_to_numpy(compat.Extract(index)(X)), X[:, index])
    assert _mask_after(lambda x: x) is not None  # the embedding's mask arrives
    assert _mask_after(lambda x: compat.Extract(0)(x)) is None
    with pytest.raises(ValueError, match="`index` must be an int"):
        compat.Extract(1.0)


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_masked_conv1d_is_conv1d_of_the_zeroed_steps(padding):
    layer = compat.MaskedConv1D(filters=3, kernel_size=3, padding=padding)
    plain = keras.layers.Conv1D(filters=3, kernel_size=3, padding=padding)
    output = ops.convert_to_numpy(layer(X, mask=MASK))
    plain.build(X.shape)
    plain.set_weights(layer.get_weights())
    expected = ops.convert_to_numpy(plain(X * MASK[..., None]))
    np.testing.assert_allclose(output, expected, atol=FLOAT32_ATOL, rtol=0)
    mask = ops.convert_to_numpy(layer.compute_mask(X, ops.convert_to_tensor(MASK)))
    # keras-bert's cut of a 'valid' convolution's mask: kernel_size // 2 * 2 steps off the start.
    np.testing.assert_array_equal(mask, MASK if padding == "same" else MASK[:, 2:])


def test_masked_global_max_pool_skips_masked_steps():
    output = ops.convert_to_numpy(compat.MaskedGlobalMaxPool1D()(X, mask=MASK))
    expected = np.where(MASK[..., None], X, -np.inf).max(axis=1)
    np.testing.assert_allclose(output, expected, atol=FLOAT32_ATOL, rtol=0)
    np.testing.assert_allclose(
        ops.convert_to_numpy(compat.MaskedGlobalMaxPool1D()(X)), X.max(axis=1), atol=0
    )
    assert _mask_after(lambda x: compat.MaskedGlobalMaxPool1D()(x)) is None


@pytest.mark.parametrize("mask_zero", [False, True])
def test_task_embedding_adds_each_rows_task_vector(mask_zero):
    layer = compat.TaskEmbedding(input_dim=3, output_dim=4, mask_zero=mask_zero)
    tasks = np.array([[0], [2]])
    output = ops.convert_to_numpy(layer([X, tasks]))
    table = ops.convert_to_numpy(layer.embeddings)
    vectors = table[tasks[:, 0]][:, None, :]  # (B, 1, D)
    if mask_zero:
        vectors = vectors * (tasks != 0)[:, :, None]
    np.testing.assert_allclose(output, X + vectors, atol=FLOAT32_ATOL, rtol=0)
    mask = layer.compute_mask([X, tasks], [ops.convert_to_tensor(MASK), None])
    np.testing.assert_array_equal(ops.convert_to_numpy(mask), MASK)


def test_get_inputs_and_a_saved_model_of_the_layers():
    token, segment, masked = compat.get_inputs(5)
    assert [t.name for t in (token, segment, masked)] == [
        "Input-Token",
        "Input-Segment",
        "Input-Masked",
    ]
    assert tuple(token.shape) == (None, 5)
    ids = keras.Input((5,), dtype="int32")
    task = keras.Input((1,), dtype="int32")
    x = keras.layers.Embedding(9, 4, mask_zero=True)(ids)
    x = compat.TaskEmbedding(3, 4)([x, task])
    x = compat.MaskedConv1D(filters=4, kernel_size=3, padding="same")(x)
    pooled = compat.MaskedGlobalMaxPool1D()(x)
    first = compat.Extract(0)(x)
    model = keras.Model([ids, task], keras.layers.Concatenate()([pooled, first]))
    inputs = [np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]]), np.array([[1], [2]])]
    path = os.path.join(tempfile.mkdtemp(), "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0), atol=SAVE_ATOL
    )


def test_get_embedding_sums_token_segment_and_position_tables():
    inputs = compat.get_inputs(seq_len=5)
    embedded, table = compat.get_embedding(inputs, token_num=9, pos_num=7, embed_dim=4)
    model = keras.Model(inputs[:2], [embedded, table])
    tokens = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]], "float32")
    segments = np.array([[0, 0, 1, 1, 0], [0, 1, 1, 1, 1]], "float32")
    output, returned_table = (ops.convert_to_numpy(t) for t in model([tokens, segments]))
    token_table = ops.convert_to_numpy(model.get_layer("Embedding-Token").embeddings)
    segment_table = ops.convert_to_numpy(model.get_layer("Embedding-Segment").embeddings)
    position_table = ops.convert_to_numpy(model.get_layer("Embedding-Position").embeddings)
    expected = (
        token_table[tokens.astype(int)] + segment_table[segments.astype(int)] + position_table[:5]
    )
    np.testing.assert_allclose(output, expected, atol=FLOAT32_ATOL, rtol=0)
    np.testing.assert_array_equal(returned_table, token_table)
    assert compat.get_token_embedding(model) is table


def test_get_token_embedding_and_compile_model_on_a_get_model_model():
    inputs, output = compat.get_model(
        token_num=20, pos_num=8, seq_len=8, embed_dim=8, transformer_num=1, head_num=2,
        feed_forward_dim=16, training=False, trainable=True,  # (training=False freezes by default)
    )  # fmt: skip
    model = keras.Model(inputs, output)
    table = compat.get_token_embedding(model)  # a tensor of the graph, as in keras-bert
    assert tuple(table.shape) == (20, 8)
    table = model.get_layer("Embedding-Token").embeddings
    with pytest.raises(ValueError, match="Embedding-Token"):  # keras-bert's get_layer error
        compat.get_token_embedding(keras.Sequential([keras.layers.Dense(2)]))
    classifier = keras.Model(
        inputs, keras.layers.Dense(2, activation="softmax")(compat.Extract(0)(output))
    )
    compat.compile_model(classifier, learning_rate=1e-3, warmup_steps=2, decay_steps=10)
    assert type(classifier.optimizer).__name__ == "AdamWarmup"
    ids = np.array([[2, 5, 6, 3, 0, 0, 0, 0]] * 4)
    before = ops.convert_to_numpy(table).copy()
    history = classifier.fit([ids, 0 * ids], np.array([0, 1, 0, 1]), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert not np.allclose(ops.convert_to_numpy(table), before)  # it trains the table


def test_output_layer_num_lists_pick_blocks_in_reverse_list_order():
    """keras-bert's list form: [-1, 0] concatenates block 0, then the last
    block; an int n is the list [-1, ..., -n]. Checked against the all-blocks
    output (earliest first), sliced."""
    sizes = dict(
        token_num=20, pos_num=8, seq_len=8, embed_dim=8, transformer_num=3, head_num=2,
        feed_forward_dim=16, training=False,
    )  # fmt: skip
    keras.utils.set_random_seed(0)
    inputs, every = compat.get_model(**sizes, output_layer_num=3)
    every_model = keras.Model(inputs, every)
    ids = np.array([[2, 5, 6, 3, 0, 0, 0, 0], [2, 7, 8, 9, 3, 0, 0, 0]])
    all_blocks = every_model.predict([ids, 0 * ids], verbose=0)  # (B, T, 3 * 8)
    for chosen, columns in (([-1, 0], [0, 2]), ([1], [1]), ([-3, -1, 1], [1, 2, 0])):
        inputs, output = compat.get_model(**sizes, output_layer_num=chosen)
        model = keras.Model(inputs, output)
        for layer in model.layers:  # the same layers under the same names
            layer.set_weights(every_model.get_layer(layer.name).get_weights())
        expected = np.concatenate([all_blocks[..., 8 * c : 8 * (c + 1)] for c in columns], -1)
        np.testing.assert_allclose(model.predict([ids, 0 * ids], verbose=0), expected, atol=1e-6)
    for bad, message in (
        ([], "at least one"),
        ([3], "outside the 3 blocks"),
        ([0.5], "not an int"),
    ):
        with pytest.raises(ValueError, match=message):
            compat.get_model(**sizes, output_layer_num=bad)
