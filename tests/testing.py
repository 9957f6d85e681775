"""The project's test base: Keras's own `run_layer_test`, plus checks of our own.

Letters in comments: B batch, T query length, S key length, D width.
"""

import contextlib
import os
import tempfile

import keras
import numpy as np
from keras.src.testing import TestCase as KerasTestCase

from tests.tolerances import FLOAT32_ATOL, FLOAT32_RTOL

HALF_POLICIES = ("mixed_float16", "mixed_bfloat16")

# float32 against NumPy float64 references: FLOAT32_ATOL, FLOAT32_RTOL
# (tests/tolerances.py, shared with the portable suite).
# Half precision against the float32 layer with the same weights.
HALF_ATOL = {"mixed_float16": 5e-3, "mixed_bfloat16": 3e-2}


class TestCase(KerasTestCase):
    """`keras.src.testing.TestCase` (and so `run_layer_test`) plus precision,
    save/load and gradient checks shared by every kerastack layer test."""

    def assert_close(self, actual, expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL, msg=None):
        np.testing.assert_allclose(
            to_numpy(actual), to_numpy(expected), atol=atol, rtol=rtol, err_msg=msg or ""
        )

    def run_precision_check(self, make_layer, inputs, call_kwargs=None, policies=HALF_POLICIES):
        """Under each mixed policy: weights stay float32, outputs and every
        sublayer compute in the half dtype, outputs are finite and match the
        float32 layer holding the same weights. The weights are drawn from
        one seed: with xdist the tests a process runs before this one vary,
        and so would unseeded weights (and the rounding they meet)."""
        keras.utils.set_random_seed(0)
        call_kwargs = call_kwargs or {}
        reference_layer = make_layer("float32")
        reference = reference_layer(*inputs, **call_kwargs)
        for policy in policies:
            layer = make_layer(policy)
            layer(*inputs, **call_kwargs)
            layer.set_weights(reference_layer.get_weights())
            outputs = layer(*inputs, **call_kwargs)
            compute_dtype = keras.DTypePolicy(policy).compute_dtype
            for output in keras.tree.flatten(outputs):
                self.assertEqual(keras.backend.standardize_dtype(output.dtype), compute_dtype)
                self.assertTrue(np.all(np.isfinite(to_numpy(output))), f"non-finite under {policy}")
            for weight in layer.weights:
                self.assertEqual(keras.backend.standardize_dtype(weight.dtype), "float32")
            for sublayer in layer._flatten_layers(include_self=False):
                self.assertEqual(sublayer.dtype_policy.name, policy, sublayer.name)
            for actual, expected in zip(
                keras.tree.flatten(outputs), keras.tree.flatten(reference), strict=True
            ):
                self.assert_close(
                    to_numpy(actual).astype("float32"),
                    expected,
                    atol=HALF_ATOL[policy],
                    rtol=HALF_ATOL[policy],
                    msg=policy,
                )

    def run_save_load_check(self, model, inputs):
        """A `.keras` round trip, with no `custom_objects`, gives equal outputs."""
        expected = model(inputs)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.keras")
            model.save(path)
            restored = keras.saving.load_model(path)
        self.assert_close(restored(inputs), expected, atol=1e-6, rtol=1e-6)
        return restored


def to_numpy(x):
    if isinstance(x, (list, tuple)):
        return [to_numpy(item) for item in x]
    return np.asarray(keras.ops.convert_to_numpy(x))


def input_gradient(fn, x):
    """d sum(fn(x)) / dx on the active backend, as NumPy."""
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(fn(x))
        return tape.gradient(y, x).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda v: fn(v).sum())(x))
    if backend == "torch":
        import torch

        x = torch.tensor(x, requires_grad=True)
        fn(x).sum().backward()
        return x.grad.detach().cpu().numpy()
    raise NotImplementedError(f"no gradient helper for backend {backend!r}")


def finite_difference_gradient(fn, x, eps=1e-6):
    """Central differences of sum(fn(x)) in float64."""
    x = np.array(x, dtype="float64")
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        plus = to_numpy(fn(x + step)).sum()
        minus = to_numpy(fn(x - step)).sum()
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def padding_mask(lengths, length):
    """`(B, length)` boolean mask, True on the first `lengths[b]` positions."""
    return np.arange(length)[None, :] < np.asarray(lengths)[:, None]


def random_inputs(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype("float32") for shape in shapes]


@contextlib.contextmanager
def float64_enabled():
    """JAX computes in float64 only with x64 enabled; other backends always may."""
    if keras.config.backend() == "jax":
        import jax

        with jax.enable_x64(True):
            yield
    else:
        yield


# Gradient checks. Keras maps float64 to float32 in result_type on JAX and
# PyTorch (keras.src.backend.common.dtypes.BIT64_TO_BIT32_DTYPE), so ops such
# as matmul, where, tanh and dot_product_attention compute a dtype="float64"
# layer partly in float32 there; only TensorFlow runs it in float64
# throughout. There the differences use eps=1e-6 and tight tolerances;
# elsewhere a larger step (float32 rounding ~1e-7 / eps against truncation
# ~eps**2) and tolerances that still catch any wrong gradient term.
FLOAT64_THROUGHOUT = keras.config.backend() == "tensorflow"
FD_EPS = 1e-6 if FLOAT64_THROUGHOUT else 3e-3
FD_TOLERANCE = {"rtol": 1e-5, "atol": 1e-7} if FLOAT64_THROUGHOUT else {"rtol": 2e-3, "atol": 1e-4}
# The analytic gradient against differences of the float64 NumPy reference.
REFERENCE_TOLERANCE = (
    {"rtol": 1e-5, "atol": 1e-7} if FLOAT64_THROUGHOUT else {"rtol": 1e-4, "atol": 1e-5}
)
