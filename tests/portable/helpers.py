"""What the portable tests share: functional models in, NumPy out.

Everything here runs on every lane, Keras 3 (TensorFlow, JAX, PyTorch) and
Keras 2 (tf.keras, and Keras 2.3 on Theano, which has no eager execution and
no static shapes for intermediate tensors). So: Keras comes only from
`kerastack.core`; layers are called on `keras.Input`s of full shape (all but
the batch); values go in and out only through `model.predict`,
`get_weights` and `set_weights`.

Letters: B batch, T length, D width.
"""

import numpy as np
import pytest

from kerastack.core import keras
from tests.tolerances import FLOAT32_ATOL, FLOAT32_RTOL, SAVE_ATOL

# The dtype of padding-mask inputs (True on real positions).
MASK_DTYPE = "bool"
# The initializer of weights that a test sets itself. Zeros cost nothing,
# where a random initializer compiles a kernel for each new weight shape on
# JAX (about half a second each, half the suite's time there).
SET_BY_TEST = "zeros"
# Keras 3.15's `get_weights` reads each variable with `np.array(variable)`,
# which NumPy 2 warns about once per weight (the variable's `__array__` takes
# no `copy`); every portable module sets `pytestmark = KERAS_ARRAY_WARNING`.
KERAS_ARRAY_WARNING = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def _input_dtype(array):
    if array.dtype == np.bool_:
        return MASK_DTYPE
    if np.issubdtype(array.dtype, np.integer):
        return "int32"
    return "float32"


def model_on(fn, *arrays):
    """A functional model of `fn`: one `keras.Input` per array (its shape
    without the batch, its dtype), `outputs = fn(*inputs)`."""
    inputs = [keras.Input(shape=a.shape[1:], dtype=_input_dtype(a)) for a in arrays]
    outputs = fn(*inputs)
    return keras.Model(inputs, outputs)


def predict(model, *arrays):
    """`model.predict` on `arrays` as one batch: an array per output."""
    data = list(arrays) if len(arrays) > 1 else arrays[0]
    outputs = model.predict(data, batch_size=len(arrays[0]), verbose=0)
    if isinstance(outputs, (list, tuple)):
        return [np.asarray(o) for o in outputs]
    return np.asarray(outputs)


def run(fn, *arrays):
    """`predict(model_on(fn, *arrays), *arrays)`, for layers that need no
    weights set between building and predicting."""
    return predict(model_on(fn, *arrays), *arrays)


def assert_close(actual, expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL):
    np.testing.assert_allclose(np.asarray(actual, "float64"), expected, atol=atol, rtol=rtol)


def assert_saved_and_loaded(model, arrays, tmp_path, layer_types=()):
    """`model.save` to an `.h5` file and `keras.models.load_model` with no
    `custom_objects` give the same predictions (and layers of the same types,
    found by name); returns the loaded model."""
    expected = predict(model, *arrays)
    path = str(tmp_path / "model.h5")
    model.save(path)
    restored = keras.models.load_model(path)
    actual = predict(restored, *arrays)
    if not isinstance(expected, list):
        actual, expected = [actual], [expected]
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, atol=SAVE_ATOL, rtol=0)
    for name, cls in layer_types:
        assert type(restored.get_layer(name)) is cls, (name, type(restored.get_layer(name)))
    return restored


def random_weights(layer, seed, scale=0.5):
    """Random values for every weight of a built layer or model (biases too,
    so that no term of a formula hides behind a zero); set, and returned in
    its own weight order."""
    rng = np.random.default_rng(seed)
    values = [(rng.normal(size=w.shape) * scale).astype("float32") for w in layer.get_weights()]
    layer.set_weights(values)
    return values


def padding_mask(lengths, length):
    """`(B, length)` boolean mask, True on the first `lengths[b]` positions."""
    return np.arange(length)[None, :] < np.asarray(lengths)[:, None]


def normal(seed, *shape, scale=1.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype("float32")


def with_garbage(x, mask, seed, scale=10.0):
    """`x` with its padded positions (False in `(B, T)` `mask`) replaced by
    large random values."""
    garbage = np.random.default_rng(seed).normal(size=x.shape) * scale
    return np.where(mask[..., None], x, garbage).astype(x.dtype)


def future_changed(x, cut, seed, scale=10.0):
    """`x` `(B, T, ...)` with positions `cut ..` replaced by random values."""
    x = x.copy()
    x[:, cut:] = np.random.default_rng(seed).normal(size=x[:, cut:].shape) * scale
    return x
