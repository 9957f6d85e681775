"""What the Keras 2 modules share: the backend module, its engine, dtype names, static shapes.

``_legacy`` (layers, namespace) and ``_legacy_ops`` (``keras.ops`` names) both
need these; they live here so that neither of the two imports the other back.
"""

import functools

import numpy as np

from kerastack.core._select import keras_module, wants_tf_keras


def backend_module():
    return keras_module().backend


@functools.cache
def engine():
    """``"tensorflow"`` or ``"theano"``: what computes under Keras 2."""
    if wants_tf_keras():
        return "tensorflow"
    name = keras_module().backend.backend()
    if name != "theano":
        raise ImportError(
            f"kerastack serves standalone Keras {keras_module().__version__} on Theano only, "
            f"but its backend is {name!r}. On TensorFlow use tf-keras (TF_USE_LEGACY_KERAS=1) "
            "or Keras 3."
        )
    return name


def standardize_dtype(dtype):
    """The plain name of a dtype (``"float16"``), whatever object names it."""
    if dtype is None:
        return backend_module().floatx()
    if hasattr(dtype, "compute_dtype"):  # a mixed-precision policy
        dtype = dtype.compute_dtype
    name = getattr(dtype, "name", dtype)
    if not isinstance(name, str):
        name = np.dtype(name).name
    return {"float": "float32", "int": "int64", "double": "float64"}.get(name, name)


def static_shape(x):
    """Sizes known when the graph is built: a tuple of ints and None, or None."""
    if engine() == "theano":
        import theano

        if isinstance(x, theano.compile.SharedVariable):
            return tuple(x.get_value(borrow=True).shape)
        shape = getattr(x, "_keras_shape", None)
        if shape is None and isinstance(x, theano.tensor.TensorConstant):
            return tuple(x.data.shape)
        if shape is None:
            return (None,) * x.ndim
        return tuple(shape)
    shape = x.shape
    if getattr(shape, "rank", 0) is None:
        return None
    return tuple(shape.as_list()) if hasattr(shape, "as_list") else tuple(shape)
