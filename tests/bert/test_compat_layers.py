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
