"""Test helpers shared by the position tests.

Letters: B batch, T sequence length, D feature size.
"""

import keras
import numpy as np
from keras import ops

# Token ids `(B, T)` with padding (id 0) at the end, for the mask tests.
PADDED_IDS = np.array([[3, 1, 0, 0, 0, 0], [2, 2, 2, 2, 2, 0]], "int32")


def decode_step_by_step(layer, x, sequence_axis=1):
    """Run `layer` one step at a time inside `ops.fori_loop` (traced and
    compiled on JAX, a `tf.while_loop` on TensorFlow), each step called with
    `start_index` = the loop counter, and gather the steps; as NumPy."""
    x = ops.convert_to_tensor(x)
    rank, length = len(x.shape), x.shape[sequence_axis]
    step_shape = list(x.shape)
    step_shape[sequence_axis] = 1

    def body(t, outputs):
        start = [0] * rank
        start[sequence_axis] = t
        step = ops.slice(x, start, step_shape)  # (B, 1, D) with default axes
        return ops.slice_update(outputs, start, layer(step, start_index=t))

    outputs = ops.fori_loop(0, length, body, ops.zeros(x.shape, layer.compute_dtype))
    return np.asarray(ops.convert_to_numpy(outputs))


class MaskOf(keras.layers.Layer):
    """Returns the Keras mask it receives as int32 `(B, T)`, or -1s if none."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.full(ops.shape(inputs)[:2], -1, "int32")
        return ops.cast(mask, "int32")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:2])

    def compute_mask(self, inputs, previous_mask=None):
        return None


def mask_model(make_layer, features=4):
    """ids `(B, T)` -> Embedding(mask_zero=True) -> the layer -> the mask it
    passes on, as a model."""
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, features, mask_zero=True)(inputs)
    x = make_layer()(x)
    return keras.Model(inputs, MaskOf()(x))
