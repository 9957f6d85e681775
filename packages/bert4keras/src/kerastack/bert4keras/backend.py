"""bert4keras's `backend` module on kerastack (Keras 3).

The functions bert4keras user code calls (masking, the multilabel losses, the
gelus, RoPE, ...) written with `keras.ops`, so they run on TensorFlow, JAX
and PyTorch, inside compiled steps as well as eagerly. `keras` is Keras 3
itself and `K` a small `keras.backend`-style namespace over `keras.ops`.

Left out, with the reason:

- `get_available_gpus`, `recompute_grad`, `graph_mode_decorator`, `symbolic`:
  TensorFlow-graph internals (device_lib, tape recording); Keras 3 has
  `keras.distribution` and its backends' own rematerialization instead.
- `reshape`, `flatten`, `where`, `dtype`: bert4keras adds them to `K`; here
  they are `K.reshape` (`keras.ops.reshape`), `K.flatten(x, start, end)`,
  `K.where` (broadcasting) and `K.dtype`.
- `pool1d`, `divisible_temporal_padding`, `swish`, `leaky_relu`, `Sinusoidal`:
  not asked for yet (`keras.ops.silu` and `keras.ops.leaky_relu` exist).
- Import-time registration of custom objects (bert4keras registers `gelu`
  and its losses with Keras when imported): no import-time side effects here;
  `set_gelu` registers when called.
"""

import math

from kerastack.core import keras, ops

__all__ = [
    "K",
    "align",
    "apply_rotary_position_embeddings",
    "attention_normalize",
    "batch_gather",
    "gelu_erf",
    "gelu_tanh",
    "keras",
    "multilabel_categorical_crossentropy",
    "piecewise_linear",
    "root_mean_square",
    "search_layer",
    "sequence_masking",
    "set_gelu",
    "sinusoidal_embeddings",
    "sparse_multilabel_categorical_crossentropy",
]


def _is_bool(x):
    return keras.backend.standardize_dtype(x.dtype) == "bool"


def gelu_erf(x):
    """GELU computed exactly with the error function: `0.5 x (1 + erf(x / sqrt 2))`.

    Example:

    >>> [round(float(v), 4) for v in gelu_erf(np.array([-1.0, 0.0, 2.0]))]
    [-0.1587, 0.0, 1.9545]
    """
    x = ops.convert_to_tensor(x)
    return 0.5 * x * (1.0 + ops.erf(x / math.sqrt(2.0)))


def gelu_tanh(x):
    """GELU by its tanh approximation (the one GPT-2 uses).

    Example:

    >>> [round(float(v), 4) for v in gelu_tanh(np.array([-1.0, 0.0, 2.0]))]
    [-0.1588, 0.0, 1.9546]
    """
    x = ops.convert_to_tensor(x)
    cdf = 0.5 * (1.0 + ops.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))
    return x * cdf


def set_gelu(version):
    """Choose which GELU the name `"gelu"` means: `"erf"` or `"tanh"`.

    As in bert4keras, the choice is registered in Keras's custom objects
    (`keras.utils.get_custom_objects()["gelu"]`). Differs from bert4keras:
    nothing is registered at import (bert4keras registers `gelu_erf` when
    imported), and Keras 3's `keras.activations.get("gelu")` returns Keras's
    own (erf) GELU whatever custom objects hold, so code that wants the
    chosen one reads `keras.utils.get_custom_objects()["gelu"]`.

    Example:

    >>> set_gelu("tanh")
    >>> keras.utils.get_custom_objects()["gelu"] is gelu_tanh
    True
    >>> set_gelu("erf")
    """
    name = str(version).lower()
    if name not in ("erf", "tanh"):
        raise ValueError(f"version must be 'erf' or 'tanh', got {version!r}")
    keras.utils.get_custom_objects()["gelu"] = gelu_erf if name == "erf" else gelu_tanh


def piecewise_linear(t, schedule, from_zero=True):
    """A piecewise linear function of `t` through the points of `schedule`.

    `schedule` maps steps to values, `{1000: 1, 2000: 0.1}`: the output goes
    linearly from 0 at `t = 0` (with `from_zero`, when the schedule has no
    point at 0) to 1 at 1000, then to 0.1 at 2000, and stays at 0.1 after.
    Before the first point (without `from_zero`) it is the first value.

    Example:

    >>> t = np.array([0, 500, 1500, 3000])
    >>> [round(float(v), 3) for v in piecewise_linear(t, {1000: 1.0, 2000: 0.1})]
    [0.0, 0.5, 0.55, 0.1]
    """
    points = sorted(schedule.items())
    if from_zero and points[0][0] != 0:
        points = [(0, 0.0)] + points
    t = ops.cast(t, keras.config.floatx())
    x = ops.ones_like(t) * points[0][1]
    for i, (t_begin, x_begin) in enumerate(points):
        if i + 1 < len(points):
            t_end, x_end = points[i + 1]
            segment = x_begin + (x_end - x_begin) / (t_end - t_begin) * (t - t_begin)
        else:
            segment = ops.ones_like(t) * x_begin
        x = ops.where(t >= t_begin, segment, x)
    return x


def search_layer(inputs, name, exclude_from=None):
    """Find the layer called `name` upstream of `inputs` (a layer or a
    functional-model tensor), or None.

    The search walks from `inputs`' layer back through the layers that fed
    it (and into the layers of a nested model), as bert4keras's does.

    Example:

    >>> x = keras.Input((3,))
    >>> h = keras.layers.Dense(4, name="hidden")(x)
    >>> y = keras.layers.Dense(2, name="out")(h)
    >>> search_layer(y, "hidden").name
    'hidden'
    >>> search_layer(y, "missing") is None
    True
    """
    if exclude_from is None:
        exclude_from = set()
    if isinstance(inputs, keras.layers.Layer):
        layer = inputs
    else:
        layer = inputs._keras_history[0]
    if layer.name == name:
        return layer
    if id(layer) in exclude_from:
        return None
    exclude_from.add(id(layer))
    if isinstance(layer, keras.Model):
        for inner in layer.layers:
            if inner.name == name:
                return inner
    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes:
        return None
    for tensor in nodes[0].input_tensors:
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            continue
        found = search_layer(history[0], name, exclude_from)
        if found is not None:
            return found
    return None


def align(tensor, axes, ndim=None):
    """Insert size-1 axes so that axis `i` of `tensor` becomes axis `axes[i]`
    of an `ndim`-axis result (a batched `expand_dims`).

    Example:

    >>> tuple(align(np.ones((2, 5)), [0, 2], 4).shape)
    (2, 1, 5, 1)
    >>> tuple(align(np.ones((1, 5, 4)), [0, 1, -1], 4).shape)
    (1, 5, 1, 4)
    """
    tensor = ops.convert_to_tensor(tensor)
    if len(axes) != len(tensor.shape):
        raise ValueError(
            f"axes must name every axis of the tensor ({len(tensor.shape)}), got {axes}"
        )
    if ndim is None:
        if min(axes) < 0:
            raise ValueError(f"negative axes need ndim, got axes={axes}")
        ndim = max(axes) + 1
    kept = sorted(a % ndim for a in axes)
    for position in range(ndim):
        if position not in kept:
            tensor = ops.expand_dims(tensor, position)
    return tensor


def _axes(x, axis):
    if axis is None:
        axes = [1]
    elif isinstance(axis, (list, tuple)):
        axes = list(axis)
    else:
        axes = [axis]
    ndim = len(x.shape)
    return [a if a >= 0 else ndim + a for a in axes]


def sequence_masking(x, mask=None, value=0, axis=None, bias=None, return_mask=False):
    """Replace the masked steps of `x` by `value`.

    `mask` is `(batch, length)` (bool or 0/1), aligned with axis `axis` of `x`
    (default 1); with a list of axes the step is kept only where it is valid
    on every one of them (`[2, 3]` masks both ends of a `(B, N, T, T)` score).
    `value` may be `-inf` (`"-inf"` works too). `bias` is added to the kept
    entries, or, boolean, ANDed into the mask. With `return_mask` the aligned
    mask comes back too.

    Example:

    >>> x = np.ones((2, 3, 1), "float32")
    >>> mask = np.array([[1, 1, 1], [1, 1, 0]])
    >>> sequence_masking(x, mask, value=-1.0)[..., 0].tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, -1.0]]
    """
    x = ops.convert_to_tensor(x)
    fill = ops.cast(float(value), x.dtype)
    if mask is None and bias is None:
        return (x, None) if return_mask else x
    if bias is not None:
        bias = ops.convert_to_tensor(bias)
    if mask is None:
        if _is_bool(bias):
            mask = bias
            x = ops.where(mask, x, fill)
        else:
            x = x + bias
        return (x, mask) if return_mask else x
    mask = ops.convert_to_tensor(mask)
    if not _is_bool(mask):
        mask = ops.cast(mask, "bool")
    ndim = len(x.shape)
    axes = _axes(x, axis)
    full_mask = align(mask, [0, axes[0]], ndim)
    for a in axes[1:]:
        full_mask = ops.logical_and(full_mask, align(mask, [0, a], ndim))
    mask = full_mask
    if bias is None:
        x = ops.where(mask, x, fill)
    elif _is_bool(bias):
        mask = ops.logical_and(mask, bias)
        x = ops.where(mask, x, fill)
    else:
        x = ops.where(mask, x + bias, fill)
    return (x, mask) if return_mask else x


def batch_gather(params, indices):
    """Gather along the axis after `indices`' batch axes: `params` is
    `batch + (n,) + rest`, `indices` is `batch + (k,)`, the result
    `batch + (k,) + rest` (TensorFlow's `gather(..., batch_dims=rank - 1)`).

    Example:

    >>> params = np.arange(6).reshape(2, 3)
    >>> batch_gather(params, np.array([[2, 0], [1, 1]])).tolist()
    [[2, 0], [4, 4]]
    """
    params = ops.convert_to_tensor(params)
    indices = ops.cast(indices, "int32")
    batch = len(indices.shape) - 1
    rest = len(params.shape) - batch - 1
    if rest:
        # (batch..., k) -> (batch..., k, 1...) -> broadcast to (batch..., k, rest...)
        for _ in range(rest):
            indices = ops.expand_dims(indices, -1)
        target = tuple(ops.shape(indices)[: batch + 1]) + tuple(ops.shape(params)[batch + 1 :])
        indices = ops.broadcast_to(indices, target)
    return ops.take_along_axis(params, indices, axis=batch)


def root_mean_square(x, axis=None, keepdims=False):
    """`sqrt(mean(x ** 2))` over `axis` (every axis when None).

    Example:

    >>> float(root_mean_square(np.array([3.0, 4.0]) * np.sqrt(2)))
    5.0
    """
    x = ops.convert_to_tensor(x)
    return ops.sqrt(ops.mean(ops.square(x), axis=axis, keepdims=keepdims))


def sinusoidal_embeddings(pos, dim, base=10000):
    """Sinusoidal position codes of positions `pos`: `pos.shape + (dim,)`,
    sines and cosines interleaved (`sin w0 p, cos w0 p, sin w1 p, ...`) with
    `w_i = base ** (-2 i / dim)`, as bert4keras lays them out.

    Example:

    >>> tuple(sinusoidal_embeddings(np.array([[0.0, 1.0]]), 4).shape)
    (1, 2, 4)
    >>> [round(float(v), 3) for v in sinusoidal_embeddings(np.array([1.0]), 4)[0]]
    [0.841, 0.54, 0.01, 1.0]
    """
    if dim % 2:
        raise ValueError(f"dim must be even, got {dim}")
    floatx = keras.config.floatx()
    pos = ops.cast(pos, floatx)
    indices = ops.arange(0, dim // 2, dtype=floatx)
    indices = ops.power(ops.cast(base, floatx), -2.0 * indices / dim)
    angles = ops.expand_dims(pos, -1) * indices  # pos.shape + (dim / 2,)
    embeddings = ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1)
    return ops.reshape(embeddings, tuple(ops.shape(pos)) + (dim,))


def apply_rotary_position_embeddings(sinusoidal, *tensors):
    """Rotate `tensors` (each `(B, T, ..., D)`) by the rotary position
    embedding (RoPE) whose sinusoidal codes are `sinusoidal` (`(B or 1, T, D)`,
    as `sinusoidal_embeddings` lays them out): pairs of adjacent features
    `(2i, 2i+1)` turn by the angle of their position. One tensor in, one out;
    several in, a list out.

    Example:

    >>> sin = sinusoidal_embeddings(np.arange(3.0)[None], 4)
    >>> q = np.ones((1, 3, 4), "float32")
    >>> [round(float(v), 2) for v in apply_rotary_position_embeddings(sin, q)[0, 1]]
    [-0.3, 1.38, 0.99, 1.01]
    """
    if not tensors:
        raise ValueError("apply_rotary_position_embeddings needs at least one tensor")
    tensors = [ops.convert_to_tensor(t) for t in tensors]
    shape = tuple(tensors[0].shape)
    if any(tuple(t.shape) != shape for t in tensors[1:]):
        raise ValueError(
            f"all tensors must have one shape, got {[tuple(t.shape) for t in tensors]}"
        )
    ndim = len(shape)
    sinusoidal = align(sinusoidal, [0, 1, -1], ndim)
    cos_pos = ops.repeat(sinusoidal[..., 1::2], 2, axis=-1)  # cos w0, cos w0, cos w1, ...
    sin_pos = ops.repeat(sinusoidal[..., ::2], 2, axis=-1)
    outputs = []
    for tensor in tensors:
        # (x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...)
        swapped = ops.stack([-tensor[..., 1::2], tensor[..., ::2]], axis=-1)
        swapped = ops.reshape(swapped, ops.shape(tensor))
        outputs.append(tensor * cos_pos + swapped * sin_pos)
    return outputs[0] if len(outputs) == 1 else outputs


def attention_normalize(a, mask=None, axis=-1, method="softmax", bias=None):
    """Normalize attention scores `a` along `axis` after masking.

    `method` is `"softmax"`, `"squared_relu"` (`relu(a) ** 2 / n`, n the
    number of valid keys) or `"softmax_plus"` (softmax of
    `a * log(max(n, 16)) / log(512)`). `mask` and `bias` are as in
    `sequence_masking`, masked scores taking `-inf`.

    Example:

    >>> a = np.zeros((1, 1, 3), "float32")
    >>> attention_normalize(a, np.array([[1, 1, 0]])).tolist()
    [[[0.5, 0.5, 0.0]]]
    """
    a = ops.convert_to_tensor(a)
    a, mask = sequence_masking(a, mask, -math.inf, axis, bias, True)
    if method == "softmax":
        return ops.softmax(a, axis=axis)
    if method not in ("squared_relu", "softmax_plus"):
        raise ValueError(
            f"method must be 'softmax', 'squared_relu' or 'softmax_plus', got {method!r}"
        )
    if mask is None:
        n = ops.cast(ops.shape(a)[-1], a.dtype)
    else:
        n = ops.sum(ops.cast(mask, a.dtype), axis=axis, keepdims=True)
    if method == "squared_relu":
        return ops.square(ops.relu(a)) / n
    n = ops.maximum(n, 16.0)  # very short sequences: a larger scale works worse
    return ops.softmax(a * ops.log(n) / math.log(512.0), axis=axis)


def multilabel_categorical_crossentropy(y_true, y_pred):
    """The multilabel loss of bert4keras (Su Jianlin's "softmax + cross
    entropy" for many labels): `log(1 + sum exp(s_neg)) + log(1 + sum
    exp(-s_pos))` over the last axis.

    `y_true` holds 0/1 (or probabilities), `y_pred` raw scores (no sigmoid);
    a score of `-inf` takes its class out of the row (GlobalPointer's masked
    pairs). Predict the classes whose score is above 0. Returns one loss per
    row.

    Example:

    >>> y_true = np.array([[1.0, 0.0, 0.0]])
    >>> y_pred = np.array([[3.0, -2.0, -4.0]], "float32")
    >>> [round(float(v), 4) for v in multilabel_categorical_crossentropy(y_true, y_pred)]
    [0.1915]
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(y_true, y_pred.dtype)
    ninf = ops.cast(-math.inf, y_pred.dtype)
    kept = ops.not_equal(y_pred, ninf)
    y_neg = ops.where(kept, y_pred, ninf) + ops.log(1.0 - y_true)
    y_pos = ops.where(kept, -y_pred, ninf) + ops.log(y_true)
    zeros = ops.zeros_like(y_pred[..., :1])
    y_neg = ops.concatenate([y_neg, zeros], axis=-1)
    y_pos = ops.concatenate([y_pos, zeros], axis=-1)
    return ops.logsumexp(y_neg, axis=-1) + ops.logsumexp(y_pos, axis=-1)


def sparse_multilabel_categorical_crossentropy(y_true, y_pred, mask_zero=False):
    """`multilabel_categorical_crossentropy` with the positive classes given
    by index: `y_true` is `(..., num_positive)` ints, `y_pred`
    `(..., num_classes)` raw scores. With `mask_zero`, index 0 pads rows with
    fewer positives (class 0 is then never a target).

    Example:

    >>> y_pred = np.array([[3.0, -2.0, -4.0]], "float32")
    >>> loss = sparse_multilabel_categorical_crossentropy(np.array([[0]]), y_pred)
    >>> [round(float(v), 4) for v in loss]
    [0.1915]
    """
    y_pred = ops.convert_to_tensor(y_pred)
    zeros = ops.zeros_like(y_pred[..., :1])
    y_pred = ops.concatenate([y_pred, zeros], axis=-1)
    if mask_zero:
        infs = zeros + math.inf
        y_pred = ops.concatenate([infs, y_pred[..., 1:]], axis=-1)
    y_pos_2 = batch_gather(y_pred, y_true)
    y_pos_1 = ops.concatenate([y_pos_2, zeros], axis=-1)
    if mask_zero:
        y_pred = ops.concatenate([-infs, y_pred[..., 1:]], axis=-1)
        y_pos_2 = batch_gather(y_pred, y_true)
    pos_loss = ops.logsumexp(-y_pos_1, axis=-1)
    all_loss = ops.logsumexp(y_pred, axis=-1)
    aux_loss = ops.logsumexp(y_pos_2, axis=-1) - all_loss
    aux_loss = ops.clip(1.0 - ops.exp(aux_loss), keras.config.epsilon(), 1.0)
    return pos_loss + all_loss + ops.log(aux_loss)


def _where(condition, x, y):
    condition = ops.convert_to_tensor(condition)
    if not _is_bool(condition):
        condition = ops.cast(condition, "bool")
    return ops.where(condition, x, y)


def _dot(x, y):
    """Keras 2's `K.dot`, which is NumPy's `dot`: the sum over `x`'s last
    axis and `y`'s second to last (its only one for a vector), shape
    `x.shape[:-1] + y.shape[:-2] + y.shape[-1:]`."""
    y_axis = 0 if len(y.shape) == 1 else len(y.shape) - 2
    return ops.tensordot(x, y, axes=([len(x.shape) - 1], [y_axis]))


def _flatten(x, start=None, end=None):
    x = ops.convert_to_tensor(x)
    shape = tuple(ops.shape(x))
    start, end = start or 0, end or len(shape)
    size = 1
    for s in shape[start:end]:
        size = size * s
    return ops.reshape(x, shape[:start] + (size,) + shape[end:])


class K:
    """A `keras.backend`-style namespace over Keras 3's `keras.ops`, for the
    `K.` calls of bert4keras code.

    Keras 3 dropped most of `keras.backend`; `K` maps the common names onto
    `keras.ops` (`K.sum`, `K.mean`, `K.cast`, `K.concatenate`, `K.softmax`,
    `K.logsumexp`, ...) and keeps bert4keras's additions (`K.where` with
    broadcasting and 0/1 conditions, `K.flatten(x, start, end)`).

    Differs from `keras.backend` of Keras 2: there is no session, graph or
    learning phase (`K.learning_phase`, `K.function`, `K.placeholder` are
    absent); `K.eval` and `K.get_value` return NumPy arrays and `K.set_value`
    assigns a `keras.Variable`; `K.shape` is `keras.ops.shape` (a tuple, with
    tensors only for sizes unknown while tracing); `K.dot` is NumPy's `dot`,
    as Keras 2's was; `K.batch_dot` is left out (its Keras 2 rules have no
    one-line equivalent: use `keras.ops.einsum`).

    Example:

    >>> x = np.array([[1.0, 2.0], [3.0, 4.0]], "float32")
    >>> float(K.sum(x)), K.int_shape(K.expand_dims(x, 1)), K.floatx()
    (10.0, (2, 1, 2), 'float32')
    >>> K.eval(K.where(np.array([1, 0]), x[0], 0.0)).tolist()
    [1.0, 0.0]
    >>> K.eval(K.dot(x, K.transpose(x))).tolist(), K.int_shape(K.eye(3))
    ([[5.0, 11.0], [11.0, 25.0]], (3, 3))
    """

    epsilon = staticmethod(keras.config.epsilon)
    floatx = staticmethod(keras.config.floatx)
    set_floatx = staticmethod(keras.config.set_floatx)
    image_data_format = staticmethod(keras.config.image_data_format)
    clear_session = staticmethod(keras.backend.clear_session)
    is_keras_tensor = staticmethod(keras.backend.is_keras_tensor)
    constant = staticmethod(
        lambda value, dtype=None: ops.convert_to_tensor(value, dtype or keras.config.floatx())
    )
    variable = staticmethod(
        lambda value, dtype=None, name=None: keras.Variable(value, dtype, name=name)
    )
    eval = staticmethod(ops.convert_to_numpy)
    get_value = staticmethod(ops.convert_to_numpy)
    set_value = staticmethod(lambda variable, value: variable.assign(value))
    cast = staticmethod(ops.cast)
    shape = staticmethod(ops.shape)
    int_shape = staticmethod(lambda x: tuple(x.shape))
    ndim = staticmethod(lambda x: len(x.shape))
    dtype = staticmethod(lambda x: keras.backend.standardize_dtype(x.dtype))
    reshape = staticmethod(ops.reshape)
    dot = staticmethod(_dot)
    eye = staticmethod(lambda size, dtype=None, name=None: ops.eye(size, dtype=dtype))
    flatten = staticmethod(_flatten)
    batch_flatten = staticmethod(lambda x: ops.reshape(x, (ops.shape(x)[0], -1)))
    where = staticmethod(_where)
    switch = staticmethod(_where)
    sum = staticmethod(ops.sum)
    mean = staticmethod(ops.mean)
    max = staticmethod(ops.max)
    min = staticmethod(ops.min)
    prod = staticmethod(ops.prod)
    std = staticmethod(ops.std)
    var = staticmethod(ops.var)
    cumsum = staticmethod(ops.cumsum)
    logsumexp = staticmethod(ops.logsumexp)
    all = staticmethod(ops.all)
    any = staticmethod(ops.any)
    argmax = staticmethod(lambda x, axis=-1: ops.argmax(x, axis=axis))
    argmin = staticmethod(lambda x, axis=-1: ops.argmin(x, axis=axis))
    exp = staticmethod(ops.exp)
    log = staticmethod(ops.log)
    sqrt = staticmethod(ops.sqrt)
    square = staticmethod(ops.square)
    abs = staticmethod(ops.abs)
    sign = staticmethod(ops.sign)
    pow = staticmethod(ops.power)
    sin = staticmethod(ops.sin)
    cos = staticmethod(ops.cos)
    round = staticmethod(ops.round)
    maximum = staticmethod(ops.maximum)
    minimum = staticmethod(ops.minimum)
    clip = staticmethod(ops.clip)
    equal = staticmethod(ops.equal)
    not_equal = staticmethod(ops.not_equal)
    greater = staticmethod(ops.greater)
    greater_equal = staticmethod(ops.greater_equal)
    less = staticmethod(ops.less)
    less_equal = staticmethod(ops.less_equal)
    concatenate = staticmethod(lambda tensors, axis=-1: ops.concatenate(tensors, axis=axis))
    stack = staticmethod(ops.stack)
    expand_dims = staticmethod(lambda x, axis=-1: ops.expand_dims(x, axis))
    squeeze = staticmethod(ops.squeeze)
    transpose = staticmethod(ops.transpose)
    permute_dimensions = staticmethod(ops.transpose)
    tile = staticmethod(ops.tile)
    repeat_elements = staticmethod(lambda x, rep, axis: ops.repeat(x, rep, axis=axis))
    arange = staticmethod(ops.arange)
    zeros = staticmethod(ops.zeros)
    ones = staticmethod(ops.ones)
    zeros_like = staticmethod(ops.zeros_like)
    ones_like = staticmethod(ops.ones_like)
    gather = staticmethod(lambda reference, indices: ops.take(reference, indices, axis=0))
    one_hot = staticmethod(ops.one_hot)
    stop_gradient = staticmethod(ops.stop_gradient)
    softmax = staticmethod(lambda x, axis=-1: ops.softmax(x, axis=axis))
    relu = staticmethod(ops.relu)
    sigmoid = staticmethod(ops.sigmoid)
    tanh = staticmethod(ops.tanh)
    softplus = staticmethod(ops.softplus)
    l2_normalize = staticmethod(
        lambda x, axis=None: ops.normalize(x, axis=-1 if axis is None else axis)
    )
    categorical_crossentropy = staticmethod(ops.categorical_crossentropy)
    sparse_categorical_crossentropy = staticmethod(ops.sparse_categorical_crossentropy)
    binary_crossentropy = staticmethod(ops.binary_crossentropy)
