"""kerastack.core on every lane: each `ops` name against NumPy, and the seam's own helpers.

On Keras 3 `ops` is `keras.ops`; on Keras 2 it is kerastack's module over
`keras.backend` (`kerastack/core/_legacy_ops.py`). The same table runs on all
five lanes, so both are held to NumPy's answers. Ops run inside a layer of a
functional model (Theano has no eager execution).
"""

import math

import numpy as np
import pytest

from kerastack.core import (
    keras,
    keras_version,
    ops,
    predict_arrays,
    require_keras3,
    set_dtype_policy,
    standardize_dtype,
    static_shape,
)
from tests.portable.helpers import KERAS_ARRAY_WARNING, assert_close, predict
from tests.reference import scaled_dot_product_attention as reference_attention

pytestmark = KERAS_ARRAY_WARNING
THEANO = keras.config.backend() == "theano"


class Apply(keras.layers.Layer):
    """A layer whose call is `fn(*inputs)`: ops inside a functional model."""

    def __init__(self, fn, **kwargs):
        super().__init__(**kwargs)
        self.fn = fn

    def call(self, inputs):
        outputs = self.fn(*inputs)
        return list(outputs) if isinstance(outputs, (list, tuple)) else outputs


def evaluate(fn, *arrays):
    inputs = [keras.Input(shape=a.shape[1:], dtype=str(a.dtype)) for a in arrays]
    model = keras.Model(inputs, Apply(fn)(inputs))
    return predict(model, *arrays)


RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 3, 4)).astype("float32")
Y = RNG.normal(size=(2, 3, 4)).astype("float32")
M = RNG.normal(size=(4, 5)).astype("float32")  # a constant right operand
Q = RNG.normal(size=(2, 3, 2, 4)).astype("float32")  # (B, T, N, H)
K = RNG.normal(size=(2, 5, 2, 4)).astype("float32")  # (B, S, N, H)
V = RNG.normal(size=(2, 5, 2, 4)).astype("float32")
IDS = np.array([[2, 0, 1], [1, 1, 3]], dtype="int32")
BOOL = X > 0


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# name: (fn on tensors, NumPy fn on arrays, input arrays)
CASES = {
    "cast": (lambda x: ops.cast(x, "int32"), lambda x: x.astype("int32"), [X * 3]),
    "expand_dims": (lambda x: ops.expand_dims(x, 2), lambda x: x[:, :, None], [X]),
    "squeeze": (lambda x: ops.squeeze(x[:, :1], 1), lambda x: x[:, 0], [X]),
    "transpose": (lambda x: ops.transpose(x, (0, 2, 1)), lambda x: x.transpose(0, 2, 1), [X]),
    "reshape": (lambda x: ops.reshape(x, (-1, 12)), lambda x: x.reshape(-1, 12), [X]),
    "shape_reshape": (
        lambda x: ops.reshape(x, (ops.shape(x)[0], 3, 2, 2)),
        lambda x: x.reshape(-1, 3, 2, 2),
        [X],
    ),
    "arange": (
        lambda x: x + ops.cast(ops.arange(4), "float32"),
        lambda x: x + np.arange(4),
        [X],
    ),
    "concatenate": (
        lambda x, y: ops.concatenate([x, y], axis=-1),
        lambda x, y: np.concatenate([x, y], -1),
        [X, Y],
    ),
    "stack": (lambda x, y: ops.stack([x, y], axis=1), lambda x, y: np.stack([x, y], 1), [X, Y]),
    "split": (
        lambda x: ops.split(x, 2, axis=-1)[1],
        lambda x: np.split(x, 2, -1)[1],
        [X],
    ),
    "where_scalar": (
        lambda x, y: ops.where(ops.greater_equal(x, y), x, -1e9),
        lambda x, y: np.where(x >= y, x, -1e9),
        [X, Y],
    ),
    "zeros_like_ones_like": (
        lambda x: ops.zeros_like(x) + 2 * ops.ones_like(x),
        lambda x: np.full_like(x, 2),
        [X],
    ),
    "eye": (lambda x: ops.matmul(x, ops.eye(4)), lambda x: x, [X]),
    "broadcast_to": (
        lambda x: ops.broadcast_to(x[:1], (ops.shape(x)[0], 3, 4)),
        lambda x: np.broadcast_to(x[:1], x.shape),
        [X],
    ),
    "slice": (lambda x: ops.slice(x, (0, 1, 1), (2, 2, 3)), lambda x: x[:, 1:3, 1:4], [X]),
    "slice_update": (
        lambda x, y: ops.slice_update(x, (0, 1, 0), y[:, :2]),
        lambda x, y: np.concatenate([x[:, :1], y[:, :2]], 1),
        [X, Y],
    ),
    "take": (
        lambda ids: ops.take(ops.convert_to_tensor(M), ids, axis=0),
        lambda ids: M[ids],
        [IDS],
    ),
    "pad": (
        lambda x: ops.pad(x, [(0, 0), (1, 0), (0, 2)]),
        lambda x: np.pad(x, [(0, 0), (1, 0), (0, 2)]),
        [X],
    ),
    "einsum_heads": (
        lambda q, k: ops.einsum("btnh,bsnh->bnts", q, k),
        lambda q, k: np.einsum("btnh,bsnh->bnts", q, k),
        [Q, K],
    ),
    "einsum_projection": (
        lambda x: ops.einsum("btd,dnh->btnh", x, ops.convert_to_tensor(M[:, :4].reshape(4, 2, 2))),
        lambda x: np.einsum("btd,dnh->btnh", x, M[:, :4].reshape(4, 2, 2)),
        [X],
    ),
    "matmul_2d": (lambda x: ops.matmul(x, ops.convert_to_tensor(M)), lambda x: x @ M, [X]),
    "matmul_batched": (
        lambda q, k: ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))),
        lambda q, k: q @ k.transpose(0, 1, 3, 2),
        [Q[:, :, :2], K[:, :3, :2]],
    ),
    "softmax": (lambda x: ops.softmax(x, axis=1), lambda x: np_softmax(x, 1), [X]),
    "log_softmax": (
        lambda x: ops.log_softmax(x, axis=-1),
        lambda x: np.log(np_softmax(x)),
        [X],
    ),
    "mean_sum": (
        lambda x: ops.mean(x, axis=-1, keepdims=True) + ops.sum(x, axis=1, keepdims=True),
        lambda x: x.mean(-1, keepdims=True) + x.sum(1, keepdims=True),
        [X],
    ),
    "any_all": (
        lambda b: (
            ops.cast(ops.any(b, axis=-1), "int32") + 2 * ops.cast(ops.all(b, axis=-1), "int32")
        ),
        lambda b: b.any(-1).astype("int32") + 2 * b.all(-1).astype("int32"),
        [BOOL],
    ),
    "argmax": (lambda x: ops.argmax(x, axis=-1), lambda x: x.argmax(-1), [X]),
    "elementwise": (
        lambda x: ops.square(x) + ops.power(ops.tanh(x), 3.0) + ops.sin(x) * ops.cos(x),
        lambda x: x**2 + np.tanh(x) ** 3 + np.sin(x) * np.cos(x),
        [X],
    ),
    "rsqrt_clip": (
        lambda x: ops.rsqrt(ops.clip(ops.square(x), 0.5, 2.0)),
        lambda x: 1 / np.sqrt(np.clip(x**2, 0.5, 2.0)),
        [X],
    ),
    "cumsum": (lambda x: ops.cumsum(x, axis=1), lambda x: np.cumsum(x, 1), [X]),
    "repeat": (lambda x: ops.repeat(x, 2, axis=1), lambda x: np.repeat(x, 2, 1), [X]),
    "compare": (
        lambda x, y: (
            ops.cast(ops.equal(x, y), "int32")
            + 2 * ops.cast(ops.not_equal(x, y), "int32")
            + 4 * ops.cast(ops.less(x, y), "int32")
        ),
        lambda x, y: (x == y) + 2 * (x != y) + 4 * (x < y),
        [X, np.where(BOOL, X, Y)],
    ),
    "logical": (
        lambda a, b: (
            ops.cast(ops.logical_and(a, b), "int32")
            + 2 * ops.cast(ops.logical_or(a, ops.logical_not(b)), "int32")
        ),
        lambda a, b: (a & b) + 2 * (a | ~b),
        [BOOL, Y > 0],
    ),
    "stop_gradient": (lambda x: ops.stop_gradient(x) * 2, lambda x: x * 2, [X]),
    "arithmetic": (
        lambda x, y: (
            ops.divide(ops.add(ops.multiply(x, y), ops.subtract(x, 2.0)), 3.0)
            + ops.maximum(x, y)
            - ops.minimum(x, ops.negative(y))
            + ops.sqrt(ops.abs(x))
            + ops.log(ops.exp(y) + ops.ones((3, 4)))
            + ops.sigmoid(x) * ops.relu(y)
            + ops.max(x, axis=-1, keepdims=True)
            - ops.min(y, axis=1, keepdims=True)
        ),
        lambda x, y: (
            (x * y + (x - 2)) / 3
            + np.maximum(x, y)
            - np.minimum(x, -y)
            + np.sqrt(np.abs(x))
            + np.log(np.exp(y) + 1)
            + np.maximum(y, 0) / (1 + np.exp(-x))
            + x.max(-1, keepdims=True)
            - y.min(1, keepdims=True)
        ),
        [X, Y],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_equals_numpy(name):
    fn, reference, arrays = CASES[name]
    expected = reference(*[a.astype("float64") if a.dtype == "float32" else a for a in arrays])
    assert_close(evaluate(fn, *arrays), expected)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"scale": 0.3}, {"mask": True}, {"is_causal": True}, {"bias": True}],
    ids=lambda kwargs: "-".join(kwargs) or "plain",
)
def test_dot_product_attention_equals_numpy(kwargs):
    """The fused op where the backend has one, the exact fallback on Keras 2."""
    query, key, value = Q, K[:, :3], V[:, :3]  # square, for is_causal
    allowed = RNG.random((2, 2, 3, 3)) > 0.3
    allowed[..., 0] = True  # every row sees a key
    bias = RNG.normal(size=(2, 2, 3, 3)).astype("float32")

    def fn(q, k, v, m, b):
        return ops.dot_product_attention(
            q,
            k,
            v,
            bias=b if kwargs.get("bias") else None,
            mask=m if kwargs.get("mask") else None,
            scale=kwargs.get("scale"),
            is_causal=kwargs.get("is_causal", False),
        )

    if kwargs.get("is_causal"):
        allowed_ref = np.broadcast_to(np.tril(np.ones((3, 3), bool)), allowed.shape)
    else:
        allowed_ref = allowed if kwargs.get("mask") else None
    q64 = query.astype("float64")
    if kwargs.get("bias"):
        # The bias shifts the logits (Keras on PyTorch takes a bias or a mask, not both).
        logits = np.einsum("btnh,bsnh->bnts", q64, key) / math.sqrt(4) + bias
        expected = np.einsum("bnts,bsnh->btnh", np_softmax(logits), value)
    else:
        expected, _ = reference_attention(q64, key, value, allowed_ref, kwargs.get("scale"))
    assert_close(evaluate(fn, query, key, value, allowed, bias), expected)


@pytest.mark.skipif(not THEANO, reason="Theano is the lane whose ops lack these names")
@pytest.mark.parametrize("name", ["take_along_axis", "top_k", "while_loop"])
def test_ops_theano_lacks_raise_clearly(name):
    with pytest.raises(NotImplementedError, match="not available on Theano"):
        evaluate(lambda x: getattr(ops, name)(x, 1, 1), X)


def test_static_shape_of_inputs_and_weights():
    inputs = keras.Input(shape=(3, 4))
    layer = keras.layers.Dense(5)
    layer(inputs)
    assert static_shape(inputs) == (None, 3, 4)
    assert static_shape(layer.kernel) == (4, 5)


def test_set_dtype_policy_reaches_the_layer():
    layer = keras.layers.Dense(2)
    set_dtype_policy(layer, "float64")
    assert standardize_dtype(layer.compute_dtype if keras_version() >= (3,) else layer.dtype) == (
        "float64"
    )


def test_predict_arrays_gives_numpy():
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, keras.layers.Dense(5, kernel_initializer="ones")(inputs))
    outputs = predict_arrays(model, X[:, 0])
    assert isinstance(outputs, np.ndarray)
    assert_close(outputs, X[:, 0].astype("float64").sum(-1, keepdims=True) * np.ones(5))


def test_ops_outside_the_served_names_fail_clearly():
    if keras_version() >= (3,):
        assert callable(ops.logaddexp)  # all of keras.ops
    else:
        with pytest.raises(AttributeError, match="not among the keras.ops names"):
            ops.logaddexp  # noqa: B018


def test_require_keras3():
    if keras_version() >= (3,):
        require_keras3("decode")  # nothing to say
    else:
        with pytest.raises(NotImplementedError, match="decode needs Keras 3"):
            require_keras3("decode")
