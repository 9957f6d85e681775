"""The private Keras attributes kerastack.training reads, checked on the
installed Keras (every Keras 3 lane).

`kerastack.training._keras_internals` is the only place kerastack.training
touches Keras's private attributes. Each test here takes a real Keras
optimizer or model, checks that the attribute its adapter reads is still
there, of the type and content the training tools expect, and that Keras
still uses it the way they rely on. A Keras release that moves one fails
here with the attribute's name and the Keras version, before any wrapper
test fails in a less telling way.
"""

import doctest
import inspect

import numpy as np
import pytest

from kerastack.core import keras
from kerastack.training import LearningRateMultipliers, _keras_internals
from kerastack.training._keras_internals import (
    CHECKED_KERAS_VERSIONS,
    batch_counter,
    built_variables,
    compile_metrics,
    has_moving_averages,
    learning_rate_setting,
    moving_averages,
    tracked_variables,
)

INSTALLED = f"Keras {keras.version()} ({keras.config.backend()} backend)"
CHECKED = ", ".join(CHECKED_KERAS_VERSIONS)


def moved(attribute, adapter, problem):
    """The failure message: what changed, where to fix it."""
    return (
        f"{INSTALLED}: the private Keras attribute `{attribute}` {problem}. "
        f"kerastack.training._keras_internals.{adapter} reads it (checked on Keras {CHECKED}); "
        "update that adapter (and its callers) for this Keras version."
    )


def private_attribute(obj, attribute, adapter):
    """`obj.<attribute>`, failing loudly where Keras no longer has it."""
    assert hasattr(obj, attribute), moved(
        attribute, adapter, f"is missing from {type(obj).__module__}.{type(obj).__name__}"
    )
    return getattr(obj, attribute)


def weight(values=(1.0, 1.0)):
    return keras.Variable(np.array(values, "float32"), name="w")


def ones_grad(n=2):
    return keras.ops.ones((n,))


def value(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def test_tracked_variables_is_the_optimizers_own_list():
    optimizer = keras.optimizers.Adam(0.1)
    optimizer.build([weight()])
    found = private_attribute(optimizer, "_variables", "tracked_variables")
    assert isinstance(found, list), moved(
        "_variables", "tracked_variables", f"is a {type(found).__name__}, not a list"
    )
    assert tracked_variables(optimizer) is found, moved(
        "_variables", "tracked_variables", "is not what the adapter returns"
    )
    public = optimizer.variables
    assert [id(v) for v in found] == [id(v) for v in public], moved(
        "_variables",
        "tracked_variables",
        f"no longer holds `optimizer.variables` ({[v.path for v in public]}); "
        f"it holds {[getattr(v, 'path', v) for v in found]}",
    )
    assert any(v is optimizer.iterations for v in found), moved(
        "_variables", "tracked_variables", "no longer holds the `iterations` counter"
    )
    # The effect kerastack relies on: a wrapper's variables are its own, then its inner one's.
    inner = keras.optimizers.Adam(0.1)
    wrapper = LearningRateMultipliers(inner, {})
    wrapper.build([weight()])
    assert [id(v) for v in wrapper.variables] == [
        id(v) for v in tracked_variables(wrapper) + inner.variables
    ]


def test_built_variables_are_the_variables_given_to_build():
    first, second = weight(), weight((2.0, 3.0))
    optimizer = keras.optimizers.SGD(0.5)
    optimizer.build([first, second])
    found = private_attribute(optimizer, "_trainable_variables", "built_variables")
    assert isinstance(found, list), moved(
        "_trainable_variables", "built_variables", f"is a {type(found).__name__}, not a list"
    )
    assert built_variables(optimizer) is found
    assert [id(v) for v in found] == [id(first), id(second)], moved(
        "_trainable_variables",
        "built_variables",
        "no longer lists the variables given to `build`, in their order",
    )
    # apply(grads) with no variables updates these, in this order.
    optimizer.apply([ones_grad(), 2 * ones_grad()])
    np.testing.assert_allclose(value(first), [0.5, 0.5])
    np.testing.assert_allclose(value(second), [1.0, 2.0])


def test_moving_averages_exist_once_built_with_use_ema():
    plain = keras.optimizers.SGD(0.1)
    plain.build([weight()])
    assert not has_moving_averages(plain), moved(
        "_model_variables_moving_average",
        "has_moving_averages",
        "exists on an optimizer with use_ema=False",
    )
    w = weight()
    optimizer = keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5)
    assert not has_moving_averages(optimizer), moved(
        "_model_variables_moving_average",
        "has_moving_averages",
        "exists before the optimizer is built",
    )
    optimizer.build([w])
    assert has_moving_averages(optimizer), moved(
        "_model_variables_moving_average",
        "has_moving_averages",
        "is not set by `build` under use_ema=True",
    )
    averages = private_attribute(optimizer, "_model_variables_moving_average", "moving_averages")
    assert moving_averages(optimizer) is averages
    assert isinstance(averages, list) and len(averages) == 1, moved(
        "_model_variables_moving_average",
        "moving_averages",
        f"is not a list of one average per built variable: {averages!r}",
    )
    assert isinstance(averages[0], keras.Variable) and tuple(averages[0].shape) == (2,), moved(
        "_model_variables_moving_average",
        "moving_averages",
        f"does not hold a variable shaped as the weight: {averages[0]!r}",
    )
    # Keras's update, which OptimizerWrapper._update_average repeats: momentum
    # 0 at the first batch, then momentum * average + (1 - momentum) * weight.
    optimizer.apply([ones_grad()], [w])  # w: 0.9
    np.testing.assert_allclose(value(averages[0]), [0.9, 0.9], rtol=1e-6)
    optimizer.apply([ones_grad()], [w])  # w: 0.8
    np.testing.assert_allclose(
        value(averages[0]),
        [0.85, 0.85],
        rtol=1e-6,
        err_msg=moved(
            "_model_variables_moving_average",
            "moving_averages",
            "is no longer updated as momentum * average + (1 - momentum) * weight",
        ),
    )


def test_batch_counter_counts_batches_under_accumulation():
    class Steps(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            return keras.ops.cast(step, "float32")

        def get_config(self):
            return {}

    w = weight()
    optimizer = keras.optimizers.SGD(Steps(), gradient_accumulation_steps=2)
    optimizer.build([w])
    counter = private_attribute(optimizer, "_iterations", "batch_counter")
    assert batch_counter(optimizer) is counter
    assert isinstance(counter, keras.Variable) and "int" in str(counter.dtype), moved(
        "_iterations", "batch_counter", f"is not an int variable: {counter!r}"
    )
    for _ in range(3):
        optimizer.apply([ones_grad()], [w])
    assert int(value(counter)) == 3, moved(
        "_iterations", "batch_counter", f"counts {int(value(counter))} after 3 batches, not 3"
    )
    assert int(value(optimizer.iterations)) == 1
    # What AccumulationSchedule corrects: Keras calls the schedule with the batch count.
    assert float(value(optimizer.learning_rate)) == 3.0, moved(
        "_iterations",
        "batch_counter",
        "is no longer the step Keras calls a learning-rate schedule with under "
        "gradient_accumulation_steps (AccumulationSchedule divides it)",
    )


def test_learning_rate_setting_is_the_schedule_or_variable_given():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    optimizer = keras.optimizers.SGD(schedule)
    found = private_attribute(optimizer, "_learning_rate", "learning_rate_setting")
    assert found is schedule and learning_rate_setting(optimizer) is schedule, moved(
        "_learning_rate", "learning_rate_setting", f"is not the schedule given but {found!r}"
    )
    other = keras.optimizers.schedules.ExponentialDecay(0.2, 10, 0.5)
    optimizer.learning_rate = other
    assert learning_rate_setting(optimizer) is other, moved(
        "_learning_rate", "learning_rate_setting", "does not follow the `learning_rate` setter"
    )
    constant = learning_rate_setting(keras.optimizers.SGD(0.25))
    assert isinstance(constant, keras.Variable), moved(
        "_learning_rate",
        "learning_rate_setting",
        f"is not a variable for a constant rate: {constant!r}",
    )
    assert float(value(constant)) == 0.25


def test_compile_metrics_is_none_without_metrics():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    found = private_attribute(model, "_compile_metrics", "compile_metrics")
    assert found is None, moved("_compile_metrics", "compile_metrics", "is set before compile")
    model.compile(loss="mse")
    assert compile_metrics(model) is None, moved(
        "_compile_metrics", "compile_metrics", "is set by a compile given no metrics"
    )
    model.compile(loss="mse", metrics=["mae"])
    metrics = compile_metrics(model)
    assert metrics is not None and hasattr(metrics, "update_state"), moved(
        "_compile_metrics", "compile_metrics", f"is not the compiled metrics: {metrics!r}"
    )
    assert any(m is metrics for m in model.metrics), moved(
        "_compile_metrics", "compile_metrics", "is not among `model.metrics`"
    )


def test_swap_ema_weights_reads_a_wrappers_moving_average():
    # SwapEMAWeights reads `_model_variables_moving_average` (and
    # `_trainable_variables`) of `model.optimizer.inner_optimizer`: here the
    # wrapper, which MovingAveragesForSwapEMAWeights gives that attribute.
    source = inspect.getsource(keras.callbacks.SwapEMAWeights)
    for attribute in ("_model_variables_moving_average", "_trainable_variables"):
        assert attribute in source, moved(
            attribute,
            "MovingAveragesForSwapEMAWeights",
            "is no longer what keras.callbacks.SwapEMAWeights reads",
        )
    model = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")]
    )
    wrapper = LearningRateMultipliers(keras.optimizers.SGD(0.1, use_ema=True), {})
    model.compile(optimizer=keras.optimizers.LossScaleOptimizer(wrapper), loss="mse")
    model.optimizer.build(model.trainable_variables)
    base = wrapper.inner_optimizer
    moving_averages(base)[0].assign(np.full((2, 1), 5.0, "float32"))
    assert wrapper._model_variables_moving_average is moving_averages(base)

    callback = keras.callbacks.SwapEMAWeights()
    callback.set_model(model)
    callback.on_test_begin()
    np.testing.assert_allclose(
        value(model.layers[0].kernel),
        [[5.0], [5.0]],
        err_msg=moved(
            "_model_variables_moving_average",
            "MovingAveragesForSwapEMAWeights",
            "of the wrapper is not what SwapEMAWeights swaps in",
        ),
    )
    callback.on_test_end()
    np.testing.assert_allclose(value(model.layers[0].kernel), [[1.0], [1.0]])

    plain = LearningRateMultipliers(keras.optimizers.SGD(0.1), {})
    assert not hasattr(plain, "_model_variables_moving_average")


def test_the_adapters_examples_run():
    globs = {**vars(_keras_internals), "keras": keras, "np": np}
    tests = doctest.DocTestFinder().find(_keras_internals, globs=globs)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    for test in tests:
        runner.run(test, out=report.append)
    assert runner.tries > 0
    if runner.failures:
        pytest.fail(f"{INSTALLED}:\n" + "".join(report), pytrace=False)
