"""`kerastack.core.compile_function`, the seam's one backend-specific rule:
compiled once per input signature, always reading the variables' current
values, writing updated variables back."""

import keras
import numpy as np
import pytest

from kerastack.core import compile_function, ops
from tests.testing import TestCase, to_numpy

TRACES_ONCE = keras.config.backend() in ("tensorflow", "jax")


class CompileFunctionTest(TestCase):
    def make(self):
        weight = keras.Variable(np.array([1.0, 2.0], "float32"), name="weight")
        counter = keras.Variable(0.0, name="counter", trainable=False)
        traces = []

        def fn(x):
            traces.append(1)
            counter.assign(counter + 1.0)
            return ops.matmul(x, weight)

        return weight, counter, traces, compile_function(fn, [weight], [counter])

    def test_result_and_variable_updates(self):
        weight, counter, _, fn = self.make()
        x = np.array([[1.0, 1.0], [2.0, 0.5]], "float32")
        self.assert_close(fn(x), [3.0, 3.0])
        fn(x)
        self.assertEqual(float(to_numpy(counter.value)), 2.0)

    def test_new_weights_are_read_without_tracing_again(self):
        weight, _, traces, fn = self.make()
        x = np.array([[1.0, 1.0]], "float32")
        fn(x)
        weight.assign(np.array([10.0, 20.0], "float32"))
        self.assert_close(fn(x), [30.0])
        if TRACES_ONCE:
            self.assertEqual(len(traces), 1)

    def test_new_shape_traces_again_same_shape_does_not(self):
        if not TRACES_ONCE:
            pytest.skip(reason="PyTorch runs eagerly: nothing is traced, so nothing is reused")
        _, _, traces, fn = self.make()
        fn(np.ones((1, 2), "float32"))
        fn(np.ones((1, 2), "float32"))
        self.assertEqual(len(traces), 1)
        fn(np.ones((3, 2), "float32"))
        self.assertEqual(len(traces), 2)
