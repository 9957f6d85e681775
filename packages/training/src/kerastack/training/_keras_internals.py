"""Every private Keras attribute kerastack.training reads, in one place.

Keras 3 has no public way to reach a few things the optimizer wrappers and
the multi-task model need: the variables an optimizer was built with, its
moving average of them (`use_ema=True`), its count of batches under
`gradient_accumulation_steps`, the learning rate as it was set (a schedule or
a variable), and a model's compiled metrics. Each function here reads one
such attribute and nothing else, so that a Keras release that renames or
reshapes one breaks here, and `tests/training/test_keras_internals.py` says
which attribute and which Keras version, on every Keras 3 lane.

Tested on Keras 3.15.1 with the TensorFlow, JAX and PyTorch backends.
The source of the last release of each Keras minor version from 3.5 to
3.15, and of Keras's main branch in August 2026, sets them under the same
names; that was read, not tested. They live in
`keras/src/optimizers/base_optimizer.py`,
`keras/src/trainers/trainer.py` and
`keras/src/callbacks/swap_ema_weights.py`.
Before 3.5 the batch counter is `optimizer.iterations` itself (there is
no `_iterations`): `batch_counter` would need a change there.

The functions only read the attribute, as a direct access would;
`MovingAveragesForSwapEMAWeights` gives a wrapper the attribute that
`keras.callbacks.SwapEMAWeights` reads.
"""

# The Keras releases these functions were tested on (more were read; see above).
CHECKED_KERAS_VERSIONS = ("3.15.1",)


def tracked_variables(optimizer):
    """The list in which a Keras optimizer tracks its own variables
    (`optimizer._variables`, itself, not a copy): its `iterations` counter, a
    learning-rate variable, and the slots it adds when it builds.

    `optimizer.variables` is a copy of this list; a wrapper adds its inner
    optimizer's variables to it, as `keras.optimizers.LossScaleOptimizer`
    does.

    Example:

    >>> optimizer = keras.optimizers.SGD(0.1)
    >>> [v.name for v in tracked_variables(optimizer)]
    ['iteration', 'learning_rate']
    """
    return optimizer._variables


def built_variables(optimizer):
    """The variables a built Keras optimizer was built with
    (`optimizer._trainable_variables`, a list in the order given to
    `build`), the ones `apply(grads)` updates when given no variables.

    Example:

    >>> weight = keras.Variable(np.ones(2, "float32"), name="w")
    >>> optimizer = keras.optimizers.SGD(0.1)
    >>> optimizer.build([weight])
    >>> built_variables(optimizer) == [weight]
    True
    """
    return optimizer._trainable_variables


def has_moving_averages(optimizer):
    """Whether `optimizer` keeps a moving average of the weights
    (`optimizer._model_variables_moving_average` exists): a Keras optimizer
    with `use_ema=True` once built.

    Example:

    >>> optimizer = keras.optimizers.SGD(0.1, use_ema=True)
    >>> has_moving_averages(optimizer)
    False
    >>> optimizer.build([keras.Variable(np.ones(2, "float32"))])
    >>> has_moving_averages(optimizer)
    True
    """
    return hasattr(optimizer, "_model_variables_moving_average")


def moving_averages(optimizer):
    """The moving averages of a built optimizer with `use_ema=True`
    (`optimizer._model_variables_moving_average`): one variable per built
    variable, in the order of `built_variables(optimizer)`.

    Keras updates each average after every batch as
    `momentum * average + (1 - momentum) * weight`, with momentum 0 at the
    first update (`BaseOptimizer._update_model_variables_moving_average`).

    Example:

    >>> weight = keras.Variable(np.ones(2, "float32"))
    >>> optimizer = keras.optimizers.SGD(0.1, use_ema=True)
    >>> optimizer.build([weight])
    >>> [tuple(average.shape) for average in moving_averages(optimizer)]
    [(2,)]
    """
    return optimizer._model_variables_moving_average


def batch_counter(optimizer):
    """The optimizer's count of batches it was applied to
    (`optimizer._iterations`, an int variable). It counts updates too,
    except under `gradient_accumulation_steps=N`, where `iterations` is this
    count divided by N and a learning-rate schedule is called with this one.

    Example:

    >>> weight = keras.Variable(np.ones(2, "float32"))
    >>> optimizer = keras.optimizers.SGD(0.1, gradient_accumulation_steps=2)
    >>> for _ in range(3):
    ...     optimizer.apply([keras.ops.ones((2,))], [weight])
    >>> int(batch_counter(optimizer)), int(optimizer.iterations)
    (3, 1)
    """
    return optimizer._iterations


def learning_rate_setting(optimizer):
    """The learning rate as the optimizer was given it
    (`optimizer._learning_rate`): the `LearningRateSchedule` (or callable)
    itself, or the float variable holding a constant rate.
    `optimizer.learning_rate` gives the current value instead.

    Example:

    >>> schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    >>> learning_rate_setting(keras.optimizers.SGD(schedule)) is schedule
    True
    """
    return optimizer._learning_rate


def compile_metrics(model):
    """The metrics `compile(metrics=..., weighted_metrics=...)` gave the
    model (`model._compile_metrics`), or None when it was given none or is
    not compiled.

    Example:

    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> compile_metrics(model) is None
    True
    >>> model.compile(loss="mse", metrics=["mae"])
    >>> compile_metrics(model) is None
    False
    """
    return model._compile_metrics


class MovingAveragesForSwapEMAWeights:
    """Mixin for an optimizer wrapper: `keras.callbacks.SwapEMAWeights`
    finds the moving averages of `model.optimizer.inner_optimizer` (or of
    `model.optimizer`) by its attribute `_model_variables_moving_average`;
    this gives the wrapper that attribute, read from the optimizer that
    `_averaging_optimizer()` returns, and none (an `AttributeError`) when
    that optimizer keeps no average.

    The class using it defines `_averaging_optimizer()`.

    Example:

    >>> class Wrapper(MovingAveragesForSwapEMAWeights):
    ...     def __init__(self, inner):
    ...         self.inner = inner
    ...     def _averaging_optimizer(self):
    ...         return self.inner
    >>> hasattr(Wrapper(keras.optimizers.SGD(0.1)), "_model_variables_moving_average")
    False
    """

    @property
    def _model_variables_moving_average(self):
        base = self._averaging_optimizer()
        if not base.use_ema or not has_moving_averages(base):
            raise AttributeError("The wrapped optimizer keeps no moving average (use_ema=False).")
        return moving_averages(base)
