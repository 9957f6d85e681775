"""``keras.ops`` names for Keras 2, over ``keras.backend`` and its engine.

Keras 2 has no ``keras.ops``: its ``keras.backend`` covers most of what
kerastack layers need, and TensorFlow or Theano covers the rest. Every
function here behaves as its namesake in ``keras.ops`` (Keras 3) for the
arguments kerastack uses; the list grows only when a layer needs a name.

``dot_product_attention`` has no fused kernel in Keras 2: it is computed
exactly (scores, masked softmax in float32 for half inputs, weighted sum).
"""

import builtins
import math

import numpy as np

from kerastack.core import _legacy_backend

K = _legacy_backend.backend_module()
_THEANO = _legacy_backend.engine() == "theano"

if _THEANO:
    import theano
    import theano.tensor as T
else:
    import tensorflow as tf


def _dtype_of(x):
    return _legacy_backend.standardize_dtype(x.dtype)


def _is_tensor(x):
    return isinstance(x, theano.Variable) if _THEANO else tf.is_tensor(x)


def convert_to_tensor(x, dtype=None):
    if _is_tensor(x):
        return x if dtype is None else cast(x, dtype)
    if dtype is None and isinstance(x, (bool, int, float)):
        dtype = "bool" if isinstance(x, bool) else "int32" if isinstance(x, int) else "float32"
    if _THEANO:
        value = np.asarray(x, dtype=dtype)
        if value.dtype == np.float64 and dtype is None:
            value = value.astype(K.floatx())
        return T.constant(value)
    return tf.convert_to_tensor(x, dtype=dtype)


def _pair(x1, x2):
    """Two operands as tensors; a Python scalar takes the tensor's dtype."""
    if _is_tensor(x1) and not _is_tensor(x2):
        x2 = convert_to_tensor(np.asarray(x2, dtype=_dtype_of(x1)))
    elif _is_tensor(x2) and not _is_tensor(x1):
        x1 = convert_to_tensor(np.asarray(x1, dtype=_dtype_of(x2)))
    else:
        x1, x2 = convert_to_tensor(x1), convert_to_tensor(x2)
    return x1, x2


def convert_to_numpy(x):
    if not _is_tensor(x):
        return np.asarray(x)
    if _THEANO:
        return x.get_value() if isinstance(x, theano.compile.SharedVariable) else x.eval()
    return x.numpy() if hasattr(x, "numpy") else K.get_value(x)


def cast(x, dtype):
    dtype = _legacy_backend.standardize_dtype(dtype)
    if not _is_tensor(x):
        return convert_to_tensor(np.asarray(x, dtype=dtype))
    if _dtype_of(x) == dtype:
        return x
    if _THEANO:
        return T.neq(x, 0) if dtype == "bool" else T.cast(x, dtype)
    return tf.cast(x, dtype)


def shape(x):
    """Static sizes where known, scalar tensors where not (as ``keras.ops.shape``)."""
    static = _legacy_backend.static_shape(x)
    if static is not None and None not in static:
        return tuple(static)
    dynamic = x.shape if _THEANO else tf.shape(x)
    rank = x.ndim if _THEANO else len(x.shape)
    static = static or (None,) * rank
    return tuple(dynamic[i] if size is None else size for i, size in enumerate(static))


def _shape_arg(shape_):
    if isinstance(shape_, int):
        return (shape_,)
    return tuple(shape_)


def reshape(x, newshape):
    newshape = _shape_arg(newshape)
    if _THEANO:
        return T.reshape(x, newshape, ndim=len(newshape))
    return tf.reshape(x, newshape)


def expand_dims(x, axis):
    x = convert_to_tensor(x)
    if _THEANO:
        return T.shape_padaxis(x, axis)
    return tf.expand_dims(x, axis)


def squeeze(x, axis=None):
    if _THEANO:
        if axis is None:
            return T.squeeze(x)
        axes = [axis] if isinstance(axis, int) else list(axis)
        axes = sorted(a % x.ndim for a in axes)
        kept = [a for a in range(x.ndim) if a not in axes]
        # A reshape, not a dimshuffle: the axes may not be marked broadcastable.
        return T.reshape(x, [x.shape[a] for a in kept], ndim=len(kept))
    return tf.squeeze(x, axis)


def transpose(x, axes=None):
    if _THEANO:
        return x.transpose(axes) if axes is not None else x.T
    return tf.transpose(x, axes)


def arange(start, stop=None, step=1, dtype=None):
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        is_int = builtins.all(
            isinstance(v, int) or (_is_tensor(v) and "int" in _dtype_of(v))
            for v in (start, stop, step)
        )
        dtype = "int32" if is_int else "float32"
    if _THEANO:
        return T.cast(T.arange(start, stop, step), dtype)
    return tf.range(start, stop, step, dtype=dtype)


def concatenate(xs, axis=0):
    if _THEANO:
        return T.concatenate(list(xs), axis=axis)
    return tf.concat(list(xs), axis=axis)


def stack(xs, axis=0):
    if _THEANO:
        return T.stack(list(xs), axis=axis)
    return tf.stack(list(xs), axis=axis)


def split(x, indices_or_sections, axis=0):
    if not isinstance(indices_or_sections, int):
        raise NotImplementedError("kerastack's Keras 2 ops.split takes a number of sections.")
    if _THEANO:
        size = _legacy_backend.static_shape(x)[axis]
        if size is None:
            raise ValueError("ops.split on Theano needs the split axis's size to be known.")
        part = size // indices_or_sections
        return T.split(x, [part] * indices_or_sections, indices_or_sections, axis=axis)
    return tf.split(x, indices_or_sections, axis=axis)


def where(condition, x1, x2):
    x1, x2 = _pair(x1, x2)
    condition = cast(condition, "bool")
    if _THEANO:
        return T.switch(condition, x1, x2)
    return tf.where(condition, x1, x2)


def zeros(shape_, dtype="float32"):
    return full(shape_, 0, dtype)


def full(shape_, fill_value, dtype=None):
    dtype = dtype or ("float32" if isinstance(fill_value, float) else "int32")
    shape_ = _shape_arg(shape_)
    if _THEANO:
        return T.alloc(np.asarray(fill_value, dtype=dtype), *shape_)
    return tf.fill(shape_, tf.constant(fill_value, dtype=dtype))


def zeros_like(x, dtype=None):
    return cast(K.zeros_like(x), dtype or _dtype_of(x))


def ones_like(x, dtype=None):
    return cast(K.ones_like(x), dtype or _dtype_of(x))


def eye(n, m=None, dtype="float32"):
    value = np.eye(n, m, dtype=dtype)
    return convert_to_tensor(value)


def broadcast_to(x, shape_):
    shape_ = _shape_arg(shape_)
    if _THEANO:
        # Alloc repeats size-1 axes (elementwise ops would need them marked
        # broadcastable when the graph is built).
        return T.alloc(convert_to_tensor(x), *shape_)
    return tf.broadcast_to(x, shape_)


def slice(inputs, start_indices, shape_):  # noqa: A001 (keras.ops name)
    if _THEANO:
        index = tuple(
            builtins.slice(start, start + size)
            for start, size in zip(start_indices, shape_, strict=True)
        )
        return inputs[index]
    return tf.slice(inputs, start_indices, shape_)


def slice_update(inputs, start_indices, updates):
    if _THEANO:
        sizes = shape(updates)
        index = tuple(
            builtins.slice(start, start + size)
            for start, size in zip(start_indices, sizes, strict=True)
        )
        return T.set_subtensor(inputs[index], updates)
    from tensorflow.compiler.tf2xla.python import xla

    return xla.dynamic_update_slice(inputs, updates, start_indices)


def take(x, indices, axis=None):
    indices = cast(indices, "int32")
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    if _THEANO:
        return T.take(x, indices, axis=axis)
    return tf.gather(x, indices, axis=axis)


def take_along_axis(x, indices, axis=None):
    if _THEANO:
        raise NotImplementedError("take_along_axis is not available on Theano.")
    return tf.experimental.numpy.take_along_axis(x, cast(indices, "int32"), axis=axis)


def pad(x, pad_width, mode="constant", constant_values=None):
    if mode != "constant":
        raise NotImplementedError("kerastack's Keras 2 ops.pad supports mode='constant'.")
    value = 0 if constant_values is None else constant_values
    if _THEANO:
        out_shape = [
            s + before + after for s, (before, after) in zip(x.shape, pad_width, strict=True)
        ]
        out = T.alloc(np.asarray(value, dtype=x.dtype), *out_shape)
        index = tuple(
            builtins.slice(before, before + s)
            for s, (before, _) in zip(x.shape, pad_width, strict=True)
        )
        return T.set_subtensor(out[index], x)
    return tf.pad(x, pad_width, constant_values=value)


def einsum(subscripts, *operands):
    if _THEANO:
        return _einsum_theano(subscripts, *operands)
    return tf.einsum(subscripts, *operands)


def matmul(x1, x2):
    if _THEANO:
        if x2.ndim <= 2:
            return T.dot(x1, x2)  # (..., M, K) x (K, N): the last axis meets the first
        if x1.ndim != x2.ndim:
            raise NotImplementedError(
                "kerastack's Theano ops.matmul takes a 2-D right operand, "
                "or two operands of one rank."
            )
        batch = x1.shape[:-2]
        a = T.reshape(x1, (-1, x1.shape[-2], x1.shape[-1]), ndim=3)
        b = T.reshape(x2, (-1, x2.shape[-2], x2.shape[-1]), ndim=3)
        c = T.batched_dot(a, b)
        return T.reshape(c, T.concatenate([batch, c.shape[1:]]), ndim=x1.ndim)
    return tf.matmul(x1, x2)


def softmax(x, axis=-1):
    if _THEANO:
        shifted = x - T.max(x, axis=axis, keepdims=True)
        exp = T.exp(shifted)
        return exp / T.sum(exp, axis=axis, keepdims=True)
    return tf.nn.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    if _THEANO:
        shifted = x - T.max(x, axis=axis, keepdims=True)
        return shifted - T.log(T.sum(T.exp(shifted), axis=axis, keepdims=True))
    return tf.nn.log_softmax(x, axis=axis)


def _reduce(name):
    k_fn = getattr(K, name)

    def reduce(x, axis=None, keepdims=False):
        if isinstance(axis, list):
            axis = tuple(axis)
        return k_fn(x, axis=axis, keepdims=keepdims)

    reduce.__name__ = name
    return reduce


mean = _reduce("mean")
sum = _reduce("sum")  # noqa: A001 (keras.ops name)


def _bool_reduce(name):
    def reduce(x, axis=None, keepdims=False):
        x = cast(x, "bool")
        if _THEANO:
            fn = T.any if name == "any" else T.all
            return cast(fn(x, axis=axis, keepdims=keepdims), "bool")
        fn = tf.reduce_any if name == "any" else tf.reduce_all
        return fn(x, axis=axis, keepdims=keepdims)

    reduce.__name__ = name
    return reduce


any = _bool_reduce("any")  # noqa: A001 (keras.ops name)
all = _bool_reduce("all")  # noqa: A001 (keras.ops name)


def argmax(x, axis=None):
    return cast(K.argmax(x, axis=-1 if axis is None else axis), "int32")


def add(x1, x2):
    x1, x2 = _pair(x1, x2)
    return x1 + x2


def subtract(x1, x2):
    x1, x2 = _pair(x1, x2)
    return x1 - x2


def multiply(x1, x2):
    x1, x2 = _pair(x1, x2)
    return x1 * x2


def divide(x1, x2):
    x1, x2 = _pair(x1, x2)
    return x1 / x2


def maximum(x1, x2):
    x1, x2 = _pair(x1, x2)
    return K.maximum(x1, x2)


def minimum(x1, x2):
    x1, x2 = _pair(x1, x2)
    return K.minimum(x1, x2)


def negative(x):
    return -x


def abs(x):  # noqa: A001 (keras.ops name)
    return K.abs(x)


def exp(x):
    return K.exp(x)


def log(x):
    return K.log(x)


def sqrt(x):
    return K.sqrt(x)


def sigmoid(x):
    return K.sigmoid(x)


def relu(x):
    return K.relu(x)


def ones(shape_, dtype="float32"):
    return full(shape_, 1, dtype)


def max(x, axis=None, keepdims=False):  # noqa: A001 (keras.ops name)
    return K.max(x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001 (keras.ops name)
    return K.min(x, axis=axis, keepdims=keepdims)


def square(x):
    return x * x


def power(x1, x2):
    x1, x2 = _pair(x1, x2)
    return x1**x2


def rsqrt(x):
    return 1.0 / K.sqrt(x)


def sin(x):
    return K.sin(x)


def cos(x):
    return K.cos(x)


def tanh(x):
    return K.tanh(x)


def clip(x, x_min, x_max):
    if _THEANO:
        return T.clip(x, x_min, x_max)
    return tf.clip_by_value(x, x_min, x_max)


def cumsum(x, axis=None, dtype=None):
    if dtype is not None:
        x = cast(x, dtype)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    return K.cumsum(x, axis=axis)


def repeat(x, repeats, axis=None):
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    return K.repeat_elements(x, repeats, axis)


def stop_gradient(x):
    return K.stop_gradient(x)


def copy(x):
    x = convert_to_tensor(x)
    return T.tensor_copy(x) if _THEANO else tf.identity(x)


_THEANO_COMPARE = {"equal": "eq", "not_equal": "neq", "greater_equal": "ge", "less": "lt"}


def _compare(name):
    def compare(x1, x2):
        x1, x2 = _pair(x1, x2)
        if _THEANO:
            return cast(getattr(T, _THEANO_COMPARE[name])(x1, x2), "bool")
        return getattr(tf.math, name)(x1, x2)

    compare.__name__ = name
    return compare


equal = _compare("equal")
not_equal = _compare("not_equal")
greater_equal = _compare("greater_equal")
less = _compare("less")


def logical_and(x1, x2):
    x1, x2 = cast(x1, "bool"), cast(x2, "bool")
    return T.and_(x1, x2) if _THEANO else tf.logical_and(x1, x2)


def logical_or(x1, x2):
    x1, x2 = cast(x1, "bool"), cast(x2, "bool")
    return T.or_(x1, x2) if _THEANO else tf.logical_or(x1, x2)


def logical_not(x):
    # Not T.invert: on Theano that is a bitwise NOT, which turns True into -2.
    return T.eq(cast(x, "bool"), 0) if _THEANO else tf.logical_not(cast(x, "bool"))


def top_k(x, k, sorted=True):  # noqa: A002 (keras.ops name)
    if _THEANO:
        raise NotImplementedError("top_k is not available on Theano.")
    return tf.math.top_k(x, k, sorted=sorted)


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    if _THEANO:
        raise NotImplementedError("while_loop is not available on Theano.")
    is_tuple = isinstance(loop_vars, (list, tuple))
    loop_vars = tuple(loop_vars) if is_tuple else (loop_vars,)

    def _body(*args):
        outputs = body(*args)
        return tuple(outputs) if is_tuple else (outputs,)

    outputs = tf.while_loop(cond, _body, loop_vars, maximum_iterations=maximum_iterations)
    return outputs if is_tuple else outputs[0]


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False):
    """Exact attention over ``(B, T, N, H)`` inputs, as ``keras.ops.dot_product_attention``.

    Keras 2 has no fused kernel; the result is the same computation written
    out: logits scaled by ``1 / sqrt(H)`` unless ``scale`` is given, ``bias``
    added, masked positions excluded, softmax in float32 for half inputs.
    """
    dtype = _dtype_of(query)
    if scale is None:
        head_size = _legacy_backend.static_shape(query)[-1]
        scale = 1.0 / math.sqrt(head_size)
    logits = einsum("btnh,bsnh->bnts", query, key)  # (B, N, T, S)
    logits = cast(logits, "float32") if dtype in ("float16", "bfloat16") else logits
    logits = logits * cast(scale, _dtype_of(logits))
    if bias is not None:
        logits = logits + cast(bias, _dtype_of(logits))
    allowed = None if mask is None else cast(mask, "bool")
    if is_causal:
        query_length, key_length = shape(query)[1], shape(key)[1]
        rows = expand_dims(arange(query_length), 1)
        cols = expand_dims(arange(key_length), 0)
        causal = greater_equal(rows, cols)
        allowed = causal if allowed is None else logical_and(allowed, causal)
    if allowed is not None:
        logits = where(allowed, logits, -1e9 if dtype != "float16" else -65504.0)
    weights = cast(softmax(logits, axis=-1), dtype)
    return einsum("bnts,bsnh->btnh", weights, value)  # (B, T, N, H)


def _einsum_theano(subscripts, a, b):
    """A two-operand einsum as one batched matrix product (Theano has none)."""
    inputs, output = subscripts.replace(" ", "").split("->")
    left, right = inputs.split(",")
    batch = [c for c in output if c in left and c in right]
    contract = [c for c in left if c in right and c not in output]
    left_free = [c for c in left if c not in right]
    right_free = [c for c in right if c not in left]
    a_shape, b_shape = a.shape, b.shape
    size = {c: a_shape[i] for i, c in enumerate(left)}
    size.update({c: b_shape[i] for i, c in enumerate(right) if c not in size})

    def product(letters):
        total = 1
        for c in letters:
            total = total * size[c]
        return total

    a3 = a.transpose([left.index(c) for c in batch + left_free + contract])
    a3 = T.reshape(a3, (product(batch), product(left_free), product(contract)), ndim=3)
    b3 = b.transpose([right.index(c) for c in batch + contract + right_free])
    b3 = T.reshape(b3, (product(batch), product(contract), product(right_free)), ndim=3)
    c3 = T.batched_dot(a3, b3)  # (batch, left_free, right_free)
    order = batch + left_free + right_free
    c = T.reshape(c3, [size[c] for c in order], ndim=len(order))
    return c.transpose([order.index(ch) for ch in output])


__all__ = [
    name
    for name, value in list(globals().items())
    if callable(value)
    and not name.startswith("_")
    and getattr(value, "__module__", None) == __name__
]


def __getattr__(name):
    raise AttributeError(
        f"ops.{name} is not among the keras.ops names kerastack serves on Keras 2 "
        f"({', '.join(sorted(__all__))}). Use Keras 3 for the full keras.ops."
    )


if not _THEANO:
    # tf-keras runs layer calls through AutoGraph, which would rewrite these
    # functions' Python control flow on static values; they need none of it.
    for _name in __all__:
        globals()[_name] = tf.autograph.experimental.do_not_convert(globals()[_name])
