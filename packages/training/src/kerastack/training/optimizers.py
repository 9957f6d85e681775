"""Optimizer tools for Keras 3 on every backend (TensorFlow, JAX, PyTorch):
gradient accumulation that equals one large-batch step, LAMB-style layer
adaptation and layer-wise learning-rate decay as wrappers over any Keras
optimizer, a piecewise-linear learning-rate schedule, and evaluation with the
optimizer's moving average of the weights.

They replace what bert4keras added to its optimizers
(`extend_with_gradient_accumulation`, `extend_with_layer_adaptation`,
`extend_with_piecewise_linear_lr`, `extend_with_exponential_moving_average`).

What Keras 3 does itself, and what these tools add:

- `gradient_accumulation_steps=N` (every Keras optimizer) averages the
  gradients of N batches and updates once; with a constant learning rate, SGD,
  Adam, AdamW (its weight decay too), Lamb and gradient clipping then give the
  weights of one step on the N batches together. But a learning-rate schedule
  is called with the count of *batches*, not of updates, and the moving
  average of `use_ema=True` is updated after every batch, not after every
  update. `GradientAccumulation` turns Keras's accumulation on and fixes both.
- `use_ema=True` keeps the moving average, `fit` copies it into the model at
  its end (`finalize_variable_values`), and `keras.callbacks.SwapEMAWeights`
  evaluates with it during `fit` and `evaluate`. `ema_weights` is a context
  manager for any other code (a custom evaluation, a checkpoint of the
  averaged weights). Two faults of Keras 3.15: `SwapEMAWeights` swaps the
  average in for `predict` but never back out; and under JAX a second `fit`
  after a `fit` with `use_ema=True` fails ("Attempt to donate the same buffer
  twice": the final copy leaves each weight and its average in one buffer;
  `model.set_weights(model.get_weights())` in between avoids it, and the
  wrappers here copy).

The wrappers (`GradientAccumulation`, `LayerAdaptation`,
`LearningRateMultipliers`) nest in any order, except that
`LearningRateMultipliers` goes outside `LayerAdaptation` (the trust ratio
would undo a multiplier applied inside it). Each one copies the weights
before the wrapped optimizer's step to rewrite that step, which costs one copy
of the trainable weights during the step. Untested under `tf.distribute`
strategies.
"""

import contextlib
import math
import numbers
import re

from kerastack.core import keras, ops, require_keras3, serializable
from kerastack.training import _keras_internals as internals

_Schedule = keras.optimizers.schedules.LearningRateSchedule


@serializable
class PiecewiseLinear(_Schedule):
    """A learning rate that interpolates linearly between `(step, value)`
    points and stays at the last value after the last step (bert4keras's
    `piecewise_linear`).

    `PiecewiseLinear({1000: 1e-4, 2000: 1e-5})` rises from 0 at step 0 to
    `1e-4` at step 1000 (`from_zero`), falls to `1e-5` at step 2000 and stays
    there. Steps count optimizer updates (`optimizer.iterations`).

    Args:
        points: a dict `{step: value}` or a list of `(step, value)` pairs, in
            strictly increasing order of step; steps and values are finite and
            non-negative.
        from_zero: bool. If true and the first step is above 0, the rate
            starts at 0 at step 0 (a warmup) instead of at the first value.

    Example:

    >>> schedule = PiecewiseLinear({1000: 1e-4, 2000: 1e-5})
    >>> [round(float(schedule(step)), 8) for step in (0, 500, 1000, 1500, 3000)]
    [0.0, 5e-05, 0.0001, 5.5e-05, 1e-05]
    >>> optimizer = keras.optimizers.AdamW(learning_rate=schedule)
    """

    def __init__(self, points, from_zero=True):
        pairs = list(points.items()) if isinstance(points, dict) else list(points)
        if not pairs:
            raise ValueError(
                f"`points` must hold at least one (step, value) pair. Received: points={points!r}"
            )
        checked = []
        for pair in pairs:
            if (
                not isinstance(pair, (tuple, list))
                or len(pair) != 2
                or not all(_is_real(x) and math.isfinite(x) and x >= 0 for x in pair)
            ):
                raise ValueError(
                    "Each point of `points` must be a (step, value) pair of finite, non-negative "
                    f"numbers. Received the point {pair!r} in points={points!r}"
                )
            step, value = pair
            checked.append([int(step) if float(step).is_integer() else float(step), float(value)])
        steps = [step for step, _ in checked]
        if any(later <= earlier for earlier, later in zip(steps, steps[1:], strict=False)):
            raise ValueError(
                "The steps of `points` must be strictly increasing, in the order given. "
                f"Received steps {steps} in points={points!r}"
            )
        self.points = checked
        self.from_zero = bool(from_zero)

    def __call__(self, step):
        knots = self.points
        if self.from_zero and knots[0][0] > 0:
            knots = [[0, 0.0], *knots]
        step = ops.cast(step, "float32")
        # value(step) = y0 + sum_i slope_i * clip(step - x_i, 0, x_{i+1} - x_i):
        # constant before the first point and after the last, as numpy.interp.
        value = ops.full_like(step, knots[0][1])
        for (x0, y0), (x1, y1) in zip(knots, knots[1:], strict=False):
            width = float(x1 - x0)
            value = value + (y1 - y0) / width * ops.clip(step - float(x0), 0.0, width)
        return value

    def get_config(self):
        return {"points": [list(point) for point in self.points], "from_zero": self.from_zero}


@serializable
class AccumulationSchedule(_Schedule):
    """`schedule` counted in optimizer updates for an optimizer that
    accumulates the gradients of `steps` batches per update.

    Keras calls a schedule with the number of batches seen
    (`optimizer._iterations`), also under `gradient_accumulation_steps`; this
    schedule calls `schedule(batches // steps)`, so update `k` gets the rate
    that step `k` of the large-batch run gets. `GradientAccumulation` sets it
    up; use it directly only with Keras's own `gradient_accumulation_steps`
    equal to `steps`.

    Args:
        schedule: a `keras.optimizers.schedules.LearningRateSchedule`, written
            in updates.
        steps: int >= 2, the optimizer's `gradient_accumulation_steps`.

    Example:

    >>> schedule = PiecewiseLinear({4: 1.0})  # in updates: 0 to 1 over 4 updates
    >>> per_batch = AccumulationSchedule(schedule, steps=2)
    >>> [float(per_batch(batch)) for batch in (0, 1, 2, 3, 8)]  # batches
    [0.0, 0.0, 0.25, 0.25, 1.0]
    >>> optimizer = keras.optimizers.AdamW(
    ...     learning_rate=per_batch, gradient_accumulation_steps=2)
    """

    def __init__(self, schedule, steps):
        if not isinstance(schedule, _Schedule):
            raise ValueError(
                "`schedule` must be a keras.optimizers.schedules.LearningRateSchedule. "
                f"Received: schedule={schedule!r}"
            )
        _check_steps(steps)
        self.schedule = schedule
        self.steps = steps

    def __call__(self, step):
        return self.schedule(ops.floor_divide(step, self.steps))

    def get_config(self):
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "steps": self.steps,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedule"] = keras.saving.deserialize_keras_object(config["schedule"])
        return cls(**config)


class OptimizerWrapper(keras.optimizers.Optimizer, internals.MovingAveragesForSwapEMAWeights):
    """Base of the wrappers here: runs `inner_optimizer`'s step, then
    rewrites each variable's update (`new - old`) with `transform_update`.

    It delegates `learning_rate`, `iterations`, `scale_loss` and
    `finalize_variable_values` to the innermost Keras optimizer, saves its
    variables with its own, and keeps that optimizer's moving average
    (`use_ema=True`) an average of the weights after each rewritten update
    (only after real updates under `gradient_accumulation_steps`), so that
    `fit`'s final swap, `keras.callbacks.SwapEMAWeights` and `ema_weights`
    see the right weights.

    Subclasses override `transform_update` and add their own arguments to
    `get_config`.

    Example:

    A wrapper that makes every update `learning_rate * sign(update)`
    (register it with `keras.saving.register_keras_serializable` to save it):

    >>> class SignUpdates(OptimizerWrapper):
    ...     def transform_update(self, variable, before, update, learning_rate):
    ...         return ops.sign(update) * ops.cast(learning_rate, update.dtype)
    >>> weight = keras.Variable(np.ones(2, "float32"))
    >>> optimizer = SignUpdates(keras.optimizers.SGD(0.5))
    >>> optimizer.apply([ops.convert_to_tensor([4.0, -0.5])], [weight])  # SGD: -2, +0.25
    >>> ops.convert_to_numpy(weight).tolist()
    [0.5, 1.5]
    """

    # False where `transform_update` leaves every update as it is: no copies.
    rewrites_updates = True

    def __init__(self, inner_optimizer, name=None):
        require_keras3(type(self).__name__, "it extends Keras 3's optimizer")
        if not isinstance(inner_optimizer, keras.optimizers.Optimizer):
            raise ValueError(
                "`inner_optimizer` must be a keras.optimizers.Optimizer instance. "
                f"Received: inner_optimizer={inner_optimizer!r}"
            )
        if isinstance(inner_optimizer, keras.optimizers.LossScaleOptimizer):
            raise ValueError(
                f"{type(self).__name__} cannot wrap a LossScaleOptimizer: wrap the optimizer "
                "inside it, and put the LossScaleOptimizer outermost (compile does so itself "
                "under the mixed_float16 policy)."
            )
        base = _innermost(inner_optimizer)
        if base.use_ema and base.ema_overwrite_frequency:
            raise ValueError(
                f"{type(self).__name__} does not support `ema_overwrite_frequency` (the wrapped "
                "optimizer would overwrite the weights in the middle of the step it rewrites). "
                f"Received: ema_overwrite_frequency={base.ema_overwrite_frequency}"
            )
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner_optimizer

    def build(self, var_list):
        if not self.inner_optimizer.built:
            self.inner_optimizer.build(var_list)
        super().build(var_list)

    @property
    def variables(self):
        return internals.tracked_variables(self) + self.inner_optimizer.variables

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    f"{type(self).__name__} got gradients without variables before it was built: "
                    "call `optimizer.build(trainable_variables)` first."
                )
            variables = list(internals.built_variables(self))
        else:
            variables = list(trainable_variables)
            if not self.built:
                self.build(variables)
        grads = list(grads)
        if len(grads) != len(variables):
            raise ValueError(
                f"Got {len(grads)} gradients for {len(variables)} variables; they must match "
                "one to one."
            )
        base = _innermost(self)
        averages = (
            internals.moving_averages(base)
            if base.use_ema and internals.has_moving_averages(base)
            else None
        )
        if averages is not None:
            averages_before = [None if a is None else ops.copy(a) for a in averages]
            batches_before = ops.copy(internals.batch_counter(base))
        self._apply_update(grads, variables)
        if averages is not None:
            self._update_average(base, averages, averages_before, batches_before)

    def apply_gradients(self, grads_and_vars):
        grads, trainable_variables = zip(*grads_and_vars, strict=True)
        self.apply(grads, trainable_variables)
        return internals.batch_counter(_innermost(self))

    def _apply_update(self, grads, variables):
        inner = self.inner_optimizer
        if not self.rewrites_updates:
            if isinstance(inner, OptimizerWrapper):
                inner._apply_update(grads, variables)
            else:
                inner.apply(grads, variables)
            return
        learning_rate = ops.copy(self.learning_rate)
        rewritten = [
            (variable, ops.copy(variable))
            for grad, variable in zip(grads, variables, strict=True)
            if grad is not None and not getattr(variable, "overwrite_with_gradient", False)
        ]
        if isinstance(inner, OptimizerWrapper):
            inner._apply_update(grads, variables)
        else:
            inner.apply(grads, variables)
        for variable, before in rewritten:
            update = ops.subtract(variable, before)
            new_update = self.transform_update(variable, before, update, learning_rate)
            if new_update is update:
                continue
            variable.assign(ops.add(before, ops.cast(new_update, variable.dtype)))
            if variable.constraint is not None:
                variable.assign(variable.constraint(variable))

    def transform_update(self, variable, before, update, learning_rate):
        """The update to apply instead of `update` (`variable - before`),
        where `learning_rate` is the rate the wrapped optimizer used."""
        return update

    def _update_average(self, base, averages, averages_before, batches_before):
        # Keras's formula (BaseOptimizer._update_model_variables_moving_average)
        # on the rewritten weights; under accumulation, only at updates.
        steps = base.gradient_accumulation_steps
        updates_before = ops.floor_divide(batches_before, steps) if steps else batches_before
        not_first = ops.not_equal(updates_before, 0)
        is_update = ops.equal(ops.mod(batches_before + 1, steps), 0) if steps else None
        pairs = zip(internals.built_variables(base), averages, averages_before, strict=True)
        for variable, average, before in pairs:
            if average is None:
                continue
            momentum = ops.cast(not_first, variable.dtype) * base.ema_momentum
            averaged = momentum * before + (1 - momentum) * ops.convert_to_tensor(variable)
            if is_update is not None:
                averaged = ops.where(is_update, averaged, before)
            average.assign(averaged)

    def _averaging_optimizer(self):
        # The optimizer whose moving average keras.callbacks.SwapEMAWeights
        # reads through this wrapper (MovingAveragesForSwapEMAWeights).
        return _innermost(self)

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.inner_optimizer.learning_rate = learning_rate

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    def scale_loss(self, loss):
        return self.inner_optimizer.scale_loss(loss)

    def finalize_variable_values(self, var_list):
        base = _innermost(self)
        if not base.use_ema:
            base.finalize_variable_values(var_list)
            return
        # Keras assigns each average itself, which under JAX leaves the weight
        # and its average in one buffer, and the next fit fails ("Attempt to
        # donate the same buffer twice"): assign copies.
        for variable, average in zip(
            internals.built_variables(base), internals.moving_averages(base), strict=True
        ):
            if average is not None:
                variable.assign(ops.copy(average))

    def get_config(self):
        return {
            "name": self.name,
            "inner_optimizer": keras.saving.serialize_keras_object(self.inner_optimizer),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["inner_optimizer"] = keras.saving.deserialize_keras_object(
            config["inner_optimizer"], custom_objects=custom_objects
        )
        return cls(**config)


@serializable
class GradientAccumulation(OptimizerWrapper):
    """Accumulates the gradients of `steps` batches and updates once, as
    one step on the `steps` batches together would.

    It turns on Keras's own `gradient_accumulation_steps` in the innermost
    optimizer (which averages the gradients, then clips and applies weight
    decay once) and fixes the two things that make it differ from a
    large-batch step: a learning-rate schedule of the optimizer is wrapped in
    `AccumulationSchedule`, so it counts updates, not batches; and the
    moving average of `use_ema=True` is updated after each update only.

    Each batch's loss must be a mean over the batch (Keras's default
    reduction) and the batches equal in size. `optimizer.iterations` counts
    updates.

    Args:
        inner_optimizer: a `keras.optimizers.Optimizer` not built yet, or
            another wrapper of this module. Its innermost optimizer is changed
            in place.
        steps: int >= 2, batches per update.
        name: optional name.

    Example:

    Batches of 2, two per update, train as batches of 4 do, the schedule
    counting updates:

    >>> x = np.linspace(-1, 1, 16, dtype="float32").reshape(8, 2)
    >>> y = x @ np.array([[1.0], [-2.0]], "float32")
    >>> def trained(optimizer, batch_size):
    ...     inputs = keras.Input((2,))
    ...     outputs = keras.layers.Dense(1, kernel_initializer="zeros")(inputs)
    ...     model = keras.Model(inputs, outputs)
    ...     model.compile(optimizer=optimizer, loss="mse")
    ...     model.fit(x, y, batch_size=batch_size, shuffle=False, verbose=0)
    ...     return model.get_weights()
    >>> def adam():
    ...     return keras.optimizers.Adam(PiecewiseLinear({2: 0.1}))
    >>> accumulated = GradientAccumulation(adam(), steps=2)
    >>> small = trained(accumulated, batch_size=2)
    >>> large = trained(adam(), batch_size=4)
    >>> all(np.allclose(a, b, atol=1e-6) for a, b in zip(small, large))
    True
    >>> int(accumulated.iterations)  # updates, not batches
    2
    """

    rewrites_updates = False

    def __init__(self, inner_optimizer, steps, name=None):
        _check_steps(steps)
        super().__init__(inner_optimizer, name=name)
        base = _innermost(inner_optimizer)
        if base.built:
            raise ValueError(
                "GradientAccumulation must wrap an optimizer that is not built yet (Keras creates "
                f"the gradient accumulators when it builds). Received the built {base.name}."
            )
        if base.gradient_accumulation_steps not in (None, steps):
            raise ValueError(
                f"The wrapped optimizer already accumulates gradient_accumulation_steps="
                f"{base.gradient_accumulation_steps} batches, but steps={steps}."
            )
        schedule = internals.learning_rate_setting(base)
        if isinstance(schedule, AccumulationSchedule):
            if schedule.steps != steps:
                raise ValueError(
                    f"The wrapped optimizer's AccumulationSchedule counts {schedule.steps} batches "
                    f"per update, but steps={steps}."
                )
        elif isinstance(schedule, _Schedule):
            base.learning_rate = AccumulationSchedule(schedule, steps)
        base.gradient_accumulation_steps = steps
        self.steps = steps

    def get_config(self):
        return {**super().get_config(), "steps": self.steps}


@serializable
class LayerAdaptation(OptimizerWrapper):
    """Layer-wise adaptation (LAMB's trust ratio) over any Keras optimizer:
    each variable's update `u` (everything the wrapped optimizer's step does
    to it, decoupled weight decay included) is replaced by
    `u * learning_rate * ||w|| / ||u||`, so that it moves `learning_rate`
    times its own norm in the direction the optimizer chose. Where `||w||`
    or `||u||` is 0 the update is left as it is (ratio 1).

    `LayerAdaptation(keras.optimizers.Adam(...))` is `keras.optimizers.Lamb`
    (up to where each puts `epsilon`); `LayerAdaptation(AdamW(...))` is LAMB
    as in the paper, weight decay inside the ratio.

    Args:
        inner_optimizer: a `keras.optimizers.Optimizer` (or a wrapper of this
            module) whose update is adapted.
        exclude_from_layer_adaptation: optional list of regular expressions;
            a variable whose path (`variable.path`) matches one
            (`re.search`) keeps its update as it is, e.g.
            `["bias", "gamma", "beta"]` for biases and layer norms.
        name: optional name.

    Example:

    SGD's update `(-0.1, 0)` of a weight `(3, 4)` becomes 0.1 times the
    weight's norm, 5, long; a variable named "bias" keeps its update:

    >>> weight = keras.Variable(np.array([3.0, 4.0], "float32"), name="kernel")
    >>> bias = keras.Variable(np.array([3.0, 4.0], "float32"), name="bias")
    >>> optimizer = LayerAdaptation(
    ...     keras.optimizers.SGD(0.1), exclude_from_layer_adaptation=["bias"])
    >>> gradient = ops.convert_to_tensor([1.0, 0.0])
    >>> optimizer.apply([gradient, gradient], [weight, bias])
    >>> [round(float(v), 4) for v in ops.convert_to_numpy(weight)]
    [2.5, 4.0]
    >>> [round(float(v), 4) for v in ops.convert_to_numpy(bias)]
    [2.9, 4.0]

    LAMB with AdamW, biases and layer norms left out:

    >>> optimizer = LayerAdaptation(
    ...     keras.optimizers.AdamW(1e-3, weight_decay=0.01),
    ...     exclude_from_layer_adaptation=["bias", "gamma", "beta"])

    References:
        - [You et al., 2020](https://arxiv.org/abs/1904.00962): Large Batch
          Optimization for Deep Learning: Training BERT in 76 minutes.
    """

    def __init__(self, inner_optimizer, exclude_from_layer_adaptation=None, name=None):
        if isinstance(exclude_from_layer_adaptation, str) or not (
            exclude_from_layer_adaptation is None
            or all(isinstance(p, str) for p in exclude_from_layer_adaptation)
        ):
            raise ValueError(
                "`exclude_from_layer_adaptation` must be None or a list of regular-expression "
                "strings. Received: "
                f"exclude_from_layer_adaptation={exclude_from_layer_adaptation!r}"
            )
        patterns = (
            None if exclude_from_layer_adaptation is None else list(exclude_from_layer_adaptation)
        )
        for pattern in patterns or ():
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(
                    f"`exclude_from_layer_adaptation` holds the invalid regular expression "
                    f"{pattern!r}: {error}"
                ) from None
        super().__init__(inner_optimizer, name=name)
        self.exclude_from_layer_adaptation = patterns

    def build(self, var_list):
        self._excluded_paths = {
            variable.path
            for variable in var_list
            if any(re.search(p, variable.path) for p in self.exclude_from_layer_adaptation or ())
        }
        super().build(var_list)

    def transform_update(self, variable, before, update, learning_rate):
        if variable.path in self._excluded_paths:
            return update
        weight_norm = ops.sqrt(ops.sum(ops.square(before)))
        update_norm = ops.sqrt(ops.sum(ops.square(update)))
        adapted = ops.logical_and(ops.greater(weight_norm, 0), ops.greater(update_norm, 0))
        safe_norm = ops.where(adapted, update_norm, ops.ones_like(update_norm))
        ratio = ops.cast(learning_rate, update.dtype) * weight_norm / safe_norm
        return update * ops.where(adapted, ratio, ops.ones_like(ratio))

    def get_config(self):
        return {
            **super().get_config(),
            "exclude_from_layer_adaptation": self.exclude_from_layer_adaptation,
        }


@serializable
class LearningRateMultipliers(OptimizerWrapper):
    """Scales the update of each variable by its own factor: a learning rate
    per variable (its weight decay scales too) over any Keras optimizer.

    It scales the update, not the gradient: Adam-like optimizers ignore the
    scale of the gradient. With `layer_decay_multipliers` it gives layer-wise
    learning-rate decay for fine-tuning.

    Args:
        inner_optimizer: a `keras.optimizers.Optimizer` (or a wrapper of this
            module, but not inside `LayerAdaptation`'s wrapped optimizer: the
            trust ratio would undo the factor).
        multipliers: dict `{variable.path: factor}`, factors finite and
            non-negative; variables not named keep factor 1. Every path must
            name a variable the optimizer is built with.
        name: optional name.

    Example:

    >>> fast = keras.Variable(np.zeros(2, "float32"), name="fast")
    >>> slow = keras.Variable(np.zeros(2, "float32"), name="slow")
    >>> optimizer = LearningRateMultipliers(keras.optimizers.SGD(1.0), {slow.path: 0.1})
    >>> gradients = [ops.ones((2,)), ops.ones((2,))]
    >>> optimizer.apply(gradients, [fast, slow])
    >>> [round(float(v), 6) for v in ops.convert_to_numpy(fast)]
    [-1.0, -1.0]
    >>> [round(float(v), 6) for v in ops.convert_to_numpy(slow)]
    [-0.1, -0.1]

    For layer-wise decay when fine-tuning BERT,
    `LearningRateMultipliers(keras.optimizers.AdamW(2e-5),
    layer_decay_multipliers(classifier, decay=0.9))`.
    """

    def __init__(self, inner_optimizer, multipliers, name=None):
        if not isinstance(multipliers, dict):
            raise ValueError(
                "`multipliers` must be a dict {variable path: factor}. "
                f"Received: multipliers={multipliers!r}"
            )
        for path, factor in multipliers.items():
            if not isinstance(path, str) or not (
                _is_real(factor) and math.isfinite(factor) and factor >= 0
            ):
                raise ValueError(
                    "`multipliers` must map variable paths (str) to finite, non-negative "
                    f"factors. Received {path!r}: {factor!r}"
                )
        super().__init__(inner_optimizer, name=name)
        self.multipliers = {path: float(factor) for path, factor in multipliers.items()}

    def build(self, var_list):
        paths = {variable.path for variable in var_list}
        unknown = sorted(set(self.multipliers) - paths)
        if unknown:
            raise ValueError(
                f"`multipliers` names variables the optimizer is not built with: {unknown}. "
                f"Its variables: {sorted(paths)}"
            )
        super().build(var_list)

    def transform_update(self, variable, before, update, learning_rate):
        factor = self.multipliers.get(variable.path, 1.0)
        return update if factor == 1.0 else update * factor

    def get_config(self):
        return {**super().get_config(), "multipliers": dict(self.multipliers)}


def layer_decay_multipliers(model, decay, depth_of=None):
    """`{variable.path: decay ** depth}` for `model`'s trainable variables,
    `depth` counted from the top: layer-wise learning-rate decay for
    `LearningRateMultipliers`. Variables at depth 0 are left out (factor 1).

    By default the depths are BERT's (`BertBackbone`, `RobertaBackbone` and
    their task models), with `L` blocks `transformer_layer_{i}`: the heads and
    `pooled_dense` 0, block `i` `L - i`, the embeddings (`token_embedding`,
    `position_embedding`, `segment_embedding`, `embeddings_layer_norm`)
    `L + 1`.

    Args:
        model: a built Keras model.
        decay: float in (0, 1].
        depth_of: optional function `depth_of(path) -> int >= 0` for other
            models, called with each trainable variable's path.

    Example:

    A model laid out as BERT (embeddings, `transformer_layer_{i}`, a head):

    >>> token_ids = keras.Input((3,), dtype="int32")
    >>> x = keras.layers.Embedding(10, 4, name="token_embedding")(token_ids)
    >>> for i in range(2):
    ...     x = keras.layers.Dense(4, name=f"transformer_layer_{i}")(x)
    >>> model = keras.Model(token_ids, keras.layers.Dense(2, name="head")(x))
    >>> layer_decay_multipliers(model, decay=0.5)
    {'token_embedding/embeddings': 0.125,
     'transformer_layer_0/kernel': 0.25, 'transformer_layer_0/bias': 0.25,
     'transformer_layer_1/kernel': 0.5, 'transformer_layer_1/bias': 0.5}

    Any other model, with its depths:

    >>> inputs = keras.Input((4,))
    >>> x = keras.layers.Dense(4, name="block_0")(inputs)
    >>> x = keras.layers.Dense(4, name="block_1")(x)
    >>> model = keras.Model(inputs, keras.layers.Dense(2, name="top")(x))
    >>> def depth_of(path):  # block i of 2 is at depth 2 - i; the rest on top
    ...     match = re.search(r"block_(\\d+)/", path)
    ...     return 2 - int(match.group(1)) if match else 0
    >>> layer_decay_multipliers(model, 0.5, depth_of)
    {'block_0/kernel': 0.25, 'block_0/bias': 0.25, 'block_1/kernel': 0.5, 'block_1/bias': 0.5}
    """
    if not (_is_real(decay) and 0 < decay <= 1):
        raise ValueError(f"`decay` must be a number in (0, 1]. Received: decay={decay!r}")
    paths = [variable.path for variable in model.trainable_variables]
    if depth_of is None:
        depth_of = _bert_depths(paths)
    multipliers = {}
    for path in paths:
        depth = depth_of(path)
        if isinstance(depth, bool) or not isinstance(depth, numbers.Integral) or depth < 0:
            raise ValueError(
                f"`depth_of` must return an int >= 0; it returned {depth!r} for {path!r}."
            )
        if depth:
            multipliers[path] = float(decay) ** int(depth)
    return multipliers


_BERT_EMBEDDINGS = re.compile(
    r"(^|/)(token_embedding|position_embedding|segment_embedding|embeddings_layer_norm)/"
)
_BERT_BLOCK = re.compile(r"(^|/)transformer_layer_(\d+)/")


def _bert_depths(paths):
    blocks = [int(m.group(2)) for m in map(_BERT_BLOCK.search, paths) if m]
    if not blocks:
        raise ValueError(
            "layer_decay_multipliers found no `transformer_layer_{i}` variables, so the model "
            "is not laid out as BERT: pass `depth_of`. Its variables: " + ", ".join(paths)
        )
    num_layers = max(blocks) + 1

    def depth_of(path):
        block = _BERT_BLOCK.search(path)
        if block:
            return num_layers - int(block.group(2))
        return num_layers + 1 if _BERT_EMBEDDINGS.search(path) else 0

    return depth_of


@contextlib.contextmanager
def ema_weights(model):
    """Within the block, `model` holds the moving average of its weights
    kept by its optimizer (`use_ema=True`); after it, its own weights again
    (bert4keras's `apply_ema_weights` / `reset_old_weights`).

    For a custom evaluation or checkpoint during training (in a callback's
    `on_epoch_end`: under JAX, `fit` syncs the model's variables only between
    epochs), or after training. `keras.callbacks.SwapEMAWeights` does the same
    around `fit`'s validation and `evaluate`.

    Args:
        model: a compiled Keras model whose optimizer (or, through wrappers,
            the optimizer inside) has `use_ema=True` and is built.

    Example:

    >>> inputs = keras.Input((1,))
    >>> dense = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")
    >>> model = keras.Model(inputs, dense(inputs))
    >>> model.compile(
    ...     optimizer=keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5), loss="mse")
    >>> x = y = np.ones((4, 1), "float32")
    >>> for _ in range(2):  # the kernel goes 0.2, then 0.36; its average 0.2, then 0.28
    ...     _ = model.train_on_batch(x, y)
    >>> def kernel():
    ...     return round(float(ops.convert_to_numpy(dense.kernel)[0, 0]), 4)
    >>> kernel()
    0.36
    >>> with ema_weights(model):
    ...     kernel()
    0.28
    >>> kernel()
    0.36

    In a callback, `with ema_weights(self.model): self.model.predict(...)`
    in `on_epoch_end` scores the averaged weights after each epoch.
    """
    require_keras3("ema_weights", "Keras 3's optimizer EMA")
    optimizer = getattr(model, "optimizer", None)
    base = optimizer
    while hasattr(base, "inner_optimizer"):  # our wrappers, LossScaleOptimizer
        base = base.inner_optimizer
    if base is None or not getattr(base, "use_ema", False):
        raise ValueError(
            "ema_weights needs a model compiled with an optimizer that has use_ema=True. "
            f"Received a model whose optimizer is {optimizer!r}."
        )
    if not base.built:
        raise ValueError(
            f"The optimizer {base.name} is not built yet: there is no moving average to use. "
            "Train (or build the optimizer) first."
        )
    _swap_averages(base)
    try:
        yield model
    finally:
        _swap_averages(base)


def _swap_averages(optimizer):
    for variable, average in zip(
        internals.built_variables(optimizer), internals.moving_averages(optimizer), strict=True
    ):
        if average is None:
            continue
        current = ops.convert_to_numpy(variable.value)
        variable.assign(ops.convert_to_numpy(average.value))
        average.assign(current)


def _innermost(optimizer):
    while isinstance(optimizer, OptimizerWrapper):
        optimizer = optimizer.inner_optimizer
    return optimizer


def _is_real(x):
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _check_steps(steps):
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 2:
        raise ValueError(f"`steps` must be an int >= 2. Received: steps={steps!r}")
