"""bert4keras's `optimizers` module on kerastack (Keras 3: TensorFlow, JAX, PyTorch).

bert4keras builds optimizers by *class extension*: `extend_with_weight_decay(Adam)`
returns a new optimizer class that takes `weight_decay_rate` and
`exclude_from_weight_decay` besides `Adam`'s own arguments, and the extensions stack
(`extend_with_layer_adaptation(extend_with_weight_decay(Adam))` is LAMB). This module
does the same on Keras 3 and follows bert4keras's tf.keras ("v2") versions, the ones
`from bert4keras.optimizers import ...` gives under `TF_KERAS=1`:

- `Adam` is bert4keras's Adam, not Keras's: `epsilon=1e-6` and the update
  `lr * m_hat / (sqrt(v_hat) + epsilon)` on the bias-corrected moments (Keras 3's Adam
  puts epsilon on the uncorrected `sqrt(v)`), with `bias_correction`.
- Each extension rewrites the values the wrapped optimizer assigns during its step,
  innermost extension first, as bert4keras does by patching `K.update`; here the hooks
  are the optimizer's own `assign`/`assign_add`/`assign_sub` (every Keras optimizer
  writes its variables through them), so any `keras.optimizers` class is a valid base.
- Weight names: the patterns of `exclude_from_weight_decay`, `exclude_from_layer_adaptation`,
  `include_in_lazy_optimization`, `exclude_from_parameter_scale` (regular expressions,
  `re.search`) and of `paramwise_lr_schedule` (substrings) are matched against the
  variable's Keras 3 `path` (`"dense/kernel"`), where bert4keras matched the tf.keras
  `name` (`"dense/kernel:0"`).
- The `*_v2` names are aliases of the plain ones (Keras 3 has one optimizer API), and so
  are `AdaFactorV1`/`AdaFactorV2` of `AdaFactor` and `LionV2` of `Lion`.

`kerastack.training` has instance wrappers for the same ideas (`GradientAccumulation`,
`LayerAdaptation`, `LearningRateMultipliers`, `ema_weights`) with large-batch-exact
semantics; the classes here keep bert4keras's own arithmetic instead (for example its
gradient accumulation applies the *previous* `grad_accum_steps` batches' gradients, and
its look-ahead starts the slow weights at zero), so that models trained with bert4keras
recipes train the same. `extend_with_piecewise_linear_lr` uses kerastack.training's
`PiecewiseLinear`. Keras's built-in `weight_decay` is applied before the wrapped step,
outside this chain, so `extend_with_weight_decay` does not use it (LAMB needs the decay
inside the update that the trust ratio rescales).
"""

import re

import numpy as np

from kerastack.core import keras, ops, serializable
from kerastack.training import PiecewiseLinear

__all__ = [
    "AdaFactor",
    "AdaFactorV1",
    "AdaFactorV2",
    "Adam",
    "Lion",
    "LionV2",
    "extend_with_exponential_moving_average",
    "extend_with_exponential_moving_average_v2",
    "extend_with_gradient_accumulation",
    "extend_with_gradient_accumulation_v2",
    "extend_with_layer_adaptation",
    "extend_with_layer_adaptation_v2",
    "extend_with_lazy_optimization",
    "extend_with_lazy_optimization_v2",
    "extend_with_lookahead",
    "extend_with_lookahead_v2",
    "extend_with_parameter_wise_lr",
    "extend_with_parameter_wise_lr_v2",
    "extend_with_piecewise_linear_lr",
    "extend_with_piecewise_linear_lr_v2",
    "extend_with_weight_decay",
    "extend_with_weight_decay_v2",
    "custom_objects",
    "export_to_custom_objects",
]


def _read(variable):
    """The current value of an optimizer or model variable (the value assigned in
    this step so far, also inside JAX's stateless scope)."""
    if isinstance(variable, keras.Variable):
        return variable.value
    return ops.convert_to_tensor(variable)


def _dense(gradient, variable):
    """`gradient` as a dense tensor: TensorFlow hands embedding lookups' gradients
    over as `IndexedSlices`, which bert4keras's `_resource_apply_sparse` made dense
    too (adding them to zeros does)."""
    if type(gradient).__name__ == "IndexedSlices":
        return ops.add(ops.zeros(variable.shape, variable.dtype), gradient)
    return gradient


def _matches(name, patterns):
    return any(re.search(pattern, name) for pattern in patterns)


def _rms(x, axis=None, keepdims=False):
    return ops.sqrt(ops.mean(ops.square(x), axis=axis, keepdims=keepdims))


class _Hooks:
    """Mixin under every optimizer of this module: routes each `assign*` through
    `_transform_assign` (which the extensions override, innermost first) and
    passes `_decayed_lr()` to the wrapped optimizer's `update_step`."""

    def _hook_state(self):
        state = self.__dict__.get("_b4k_hook_state")
        if state is None:
            state = {"active": set(), "variable": None}
            # Plain Python state, kept out of Keras's and TensorFlow's tracking.
            self.__dict__["_b4k_hook_state"] = state
        return state

    def update_step(self, gradient, variable, learning_rate):
        self._hook_state()["variable"] = variable
        super().update_step(_dense(gradient, variable), variable, self._decayed_lr())

    def _decayed_lr(self):
        # A base optimizer of this module may define its own (AdaFactor's).
        inner = getattr(super(), "_decayed_lr", None)
        return inner() if inner is not None else ops.convert_to_tensor(self.learning_rate)

    def _is_model_variable(self, variable):
        return variable is self._hook_state()["variable"]

    def _is_active(self, key):
        return key in self._hook_state()["active"]

    def _variable_path(self, variable):
        return self._trainable_variables[self._get_variable_index(variable)].path

    def _slot(self, slots, variable):
        return slots[self._get_variable_index(variable)]

    def _run_inner_step(self, key, gradient, variable, learning_rate):
        """The wrapped optimizer's step, with extension `key`'s transform on."""
        active = self._hook_state()["active"]
        active.add(key)
        try:
            super(key, self).update_step(gradient, variable, learning_rate)
        finally:
            active.discard(key)

    def _transform_assign(self, variable, value):
        return value

    def assign(self, variable, value):
        value = ops.cast(ops.convert_to_tensor(value), variable.dtype)
        super().assign(variable, self._transform_assign(variable, value))

    def assign_add(self, variable, value):
        self.assign(variable, ops.add(_read(variable), ops.convert_to_tensor(value)))

    def assign_sub(self, variable, value):
        self.assign(variable, ops.subtract(_read(variable), ops.convert_to_tensor(value)))


def _hooked(base):
    if not (isinstance(base, type) and issubclass(base, keras.optimizers.Optimizer)):
        raise ValueError(
            "The base optimizer must be a keras.optimizers.Optimizer subclass (the class, "
            f"not an instance). Received: BaseOptimizer={base!r}"
        )
    if issubclass(base, _Hooks):
        return (base,)
    return (_Hooks, base)


def export_to_custom_objects(extend):
    """Decorator of the `extend_with_*` functions (bert4keras's): the decorated
    `extend(BaseOptimizer, name=None)` names the new class `name` (else it keeps
    bert4keras's `NewOptimizer`) and registers it in Keras's custom objects under
    that name, so that a model compiled with it saves and loads (`.keras`) in any
    process that has made the class again first. Give each saved class its own
    `name`: the unnamed ones all register as `NewOptimizer`, the last made winning.

    Example:

    >>> @export_to_custom_objects
    ... def extend_with_nothing(BaseOptimizer):
    ...     class NewOptimizer(BaseOptimizer):
    ...         pass
    ...     return NewOptimizer
    >>> cls = extend_with_nothing(keras.optimizers.SGD, "PlainSGDExample")
    >>> cls.__name__, keras.saving.get_custom_objects()["PlainSGDExample"] is cls
    ('PlainSGDExample', True)
    """

    def new_extend(BaseOptimizer, name=None):
        new_class = extend(BaseOptimizer)
        if isinstance(name, str):
            new_class.__name__ = name
            new_class.__qualname__ = name
        keras.saving.get_custom_objects()[new_class.__name__] = new_class
        return new_class

    new_extend.__name__ = extend.__name__
    new_extend.__qualname__ = extend.__name__
    new_extend.__doc__ = extend.__doc__
    return new_extend


class _AdamStep(keras.optimizers.Optimizer):
    """bert4keras's Adam step (`Adam` puts `_Hooks` above it)."""

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-6,
        bias_correction=True,
        name=None,
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name or "Adam", **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon or keras.config.epsilon()
        self.bias_correction = bias_correction

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(var_list, ["m", "v"])

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        m = self._slot(self._momentums, variable)
        v = self._slot(self._velocities, variable)
        self.assign(m, self.beta_1 * _read(m) + (1.0 - self.beta_1) * gradient)
        self.assign(v, self.beta_2 * _read(v) + (1.0 - self.beta_2) * ops.square(gradient))
        # Read back: an extension may have rewritten what was assigned.
        m_t, v_t = _read(m), _read(v)
        if self.bias_correction:
            m_t = m_t / (1.0 - ops.power(ops.cast(self.beta_1, dtype), step))
            v_t = v_t / (1.0 - ops.power(ops.cast(self.beta_2, dtype), step))
        self.assign(variable, _read(variable) - lr * m_t / (ops.sqrt(v_t) + self.epsilon))

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "bias_correction": self.bias_correction,
        }


@serializable(name="bert4keras.Adam")
class Adam(_Hooks, _AdamStep):
    """bert4keras's Adam: `epsilon` added to the bias-corrected `sqrt(v_hat)`.

    `var -= learning_rate * m_hat / (sqrt(v_hat) + epsilon)` with
    `m_hat = m / (1 - beta_1**t)`, `v_hat = v / (1 - beta_2**t)` (or `m`, `v` when
    `bias_correction=False`). Keras 3's `keras.optimizers.Adam` differs: its epsilon
    (default 1e-7) is added to the uncorrected `sqrt(v)`. Other Keras optimizer
    arguments (`clipnorm`, `global_clipnorm`, ...) pass through `**kwargs`.

    Args:
        learning_rate: float or `keras.optimizers.schedules.LearningRateSchedule`.
        beta_1: float, decay of the first moment.
        beta_2: float, decay of the second moment.
        epsilon: float, default 1e-6 (bert4keras's).
        bias_correction: bool, divide the moments by `1 - beta**t`.

    Example:

    >>> weight = keras.Variable(np.array([1.0, -1.0], "float32"))
    >>> optimizer = Adam(learning_rate=0.1)
    >>> optimizer.apply([ops.convert_to_tensor([0.5, -2.0])], [weight])
    >>> np.round(ops.convert_to_numpy(weight).astype(float), 4).tolist()  # moves by ~lr * sign(g)
    [0.9, -0.9]
    """


class _LionStep(keras.optimizers.Optimizer):
    """bert4keras's Lion step (`Lion` puts `_Hooks` above it)."""

    def __init__(self, learning_rate=3e-4, beta_1=0.95, beta_2=0.98, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name or "Lion", **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "m")

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        m = self._slot(self._momentums, variable)
        direction = ops.sign(self.beta_1 * _read(m) + (1.0 - self.beta_1) * gradient)
        self.assign(variable, _read(variable) - lr * direction)
        self.assign(m, self.beta_2 * _read(m) + (1.0 - self.beta_2) * gradient)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}


@serializable(name="bert4keras.Lion")
class Lion(_Hooks, _LionStep):
    """bert4keras's Lion (https://arxiv.org/abs/2302.06675):
    `var -= lr * sign(beta_1 * m + (1 - beta_1) * g)`, then
    `m = beta_2 * m + (1 - beta_2) * g`.

    Args:
        learning_rate: float or schedule, default 3e-4.
        beta_1: float, the interpolation for the update's sign, default 0.95.
        beta_2: float, the momentum's decay, default 0.98.

    Example:

    >>> weight = keras.Variable(np.array([1.0, -1.0], "float32"))
    >>> Lion(learning_rate=0.1).apply([ops.convert_to_tensor([0.5, -2.0])], [weight])
    >>> np.round(ops.convert_to_numpy(weight).astype(float), 4).tolist()
    [0.9, -0.9]
    """


class _AdaFactorStep(keras.optimizers.Optimizer):
    """bert4keras's AdaFactor step (`AdaFactor` puts `_Hooks` above it)."""

    def __init__(
        self,
        learning_rate=1e-3,
        beta1=0.0,
        beta2=None,
        epsilon1=1e-30,
        epsilon2=1e-3,
        multiply_by_parameter_scale=True,
        clipping_threshold=1.0,
        min_dim_size_to_factor=128,
        exclude_from_parameter_scale=None,
        name=None,
        **kwargs,
    ):
        # Keras needs a number; `_decayed_lr` gives the rate used.
        super().__init__(
            learning_rate=0.0 if learning_rate is None else learning_rate,
            name=name or "AdaFactor",
            **kwargs,
        )
        self.relative_step = learning_rate is None
        self.beta1 = beta1
        self._beta2 = beta2
        self.epsilon1 = epsilon1
        self.epsilon2 = epsilon2
        self.multiply_by_parameter_scale = multiply_by_parameter_scale
        self.clipping_threshold = clipping_threshold
        self.min_dim_size_to_factor = min_dim_size_to_factor
        self.exclude_from_parameter_scale = list(exclude_from_parameter_scale or [])

    def _decayed_lr(self):
        if not self.relative_step:
            return ops.convert_to_tensor(self.learning_rate)
        step = ops.cast(self.iterations + 1, "float32")
        rate = ops.minimum(1.0 / ops.sqrt(step), 0.01)
        return rate if self.multiply_by_parameter_scale else rate * 0.05

    def _beta2_t(self):
        if self._beta2 is None:
            step = ops.cast(self.iterations + 1, "float32")
            return 1.0 - ops.power(step, -0.8)
        return self._beta2

    def factored_shape(self, shape):
        """`(shape1, axis1, shape2, axis2)` of the row/column statistics of a
        weight of `shape`, or None where it keeps a full second moment."""
        if len(shape) < 2:
            return None
        shape = np.array(shape)
        # The two largest axes, chosen as bert4keras chooses them.
        indices = shape.argpartition(-2)
        if shape[indices[-2]] < self.min_dim_size_to_factor:
            return None
        shape1, shape2 = np.array(shape), np.array(shape)
        shape1[indices[-1]] = 1
        shape2[indices[-2]] = 1
        return tuple(shape1.tolist()), int(indices[-1]), tuple(shape2.tolist()), int(indices[-2])

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._first_moments, self._second_moments = [], []
        for variable in var_list:
            self._first_moments.append(
                self.add_variable_from_reference(variable, "m") if self.beta1 > 0.0 else None
            )
            factored = self.factored_shape(tuple(variable.shape))
            if factored is None:
                self._second_moments.append(self.add_variable_from_reference(variable, "v"))
            else:
                shape1, _, shape2, _ = factored
                self._second_moments.append(
                    tuple(
                        self.add_variable(
                            shape, initializer="zeros", dtype=variable.dtype, name=f"{tag}_{i}"
                        )
                        for tag, shape, i in (
                            ("vr", shape1, len(self._second_moments)),
                            ("vc", shape2, len(self._second_moments)),
                        )
                    )
                )

    def _do_parameter_scale(self, variable):
        return self.multiply_by_parameter_scale and not _matches(
            self._variable_path(variable), self.exclude_from_parameter_scale
        )

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        beta2 = ops.cast(self._beta2_t(), dtype)
        gradient = ops.cast(gradient, dtype)
        g2 = ops.square(gradient) + self.epsilon1
        factored = self.factored_shape(tuple(variable.shape))
        second = self._slot(self._second_moments, variable)
        if factored is None:
            self.assign(second, beta2 * _read(second) + (1.0 - beta2) * g2)
            v_t = _read(second)
        else:
            _, axis1, _, axis2 = factored
            vr, vc = second
            g2r = ops.mean(g2, axis=axis1, keepdims=True)
            g2c = ops.mean(g2, axis=axis2, keepdims=True)
            self.assign(vr, beta2 * _read(vr) + (1.0 - beta2) * g2r)
            self.assign(vc, beta2 * _read(vc) + (1.0 - beta2) * g2c)
            vr_t, vc_t = _read(vr), _read(vc)
            v_t = vr_t * vc_t / ops.mean(vr_t, axis=axis2, keepdims=True)
        update = gradient / ops.sqrt(v_t + self.epsilon1)
        if self.clipping_threshold is not None:
            update = update / ops.maximum(1.0, _rms(update) / self.clipping_threshold)
        if self.beta1 > 0.0:
            m = self._slot(self._first_moments, variable)
            self.assign(m, self.beta1 * _read(m) + (1.0 - self.beta1) * update)
            update = _read(m)
        value = _read(variable)
        if self._do_parameter_scale(variable):
            update = update * ops.maximum(_rms(value), self.epsilon2)
        self.assign(variable, value - lr * update)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "learning_rate": None if self.relative_step else config["learning_rate"],
                "beta1": self.beta1,
                "beta2": self._beta2,
                "epsilon1": self.epsilon1,
                "epsilon2": self.epsilon2,
                "multiply_by_parameter_scale": self.multiply_by_parameter_scale,
                "clipping_threshold": self.clipping_threshold,
                "min_dim_size_to_factor": self.min_dim_size_to_factor,
                "exclude_from_parameter_scale": self.exclude_from_parameter_scale,
            }
        )
        return config


@serializable(name="bert4keras.AdaFactor")
class AdaFactor(_Hooks, _AdaFactorStep):
    """bert4keras's AdaFactor (https://arxiv.org/abs/1804.04235), its tf.keras
    version (`AdaFactorV2`): factored second moments for weights whose two largest
    axes are both at least `min_dim_size_to_factor`, update clipping by RMS,
    optional first moment (`beta1 > 0`), updates scaled by the weight's RMS.

    Args:
        learning_rate: float, or None for `min(1 / sqrt(t), 0.01)` (times 0.05
            without `multiply_by_parameter_scale`), `t` the step from 1.
        beta1: float, first-moment decay; 0 keeps no first moment.
        beta2: float, or None for `1 - t**-0.8`.
        epsilon1: float added to the squared gradients.
        epsilon2: float, the least weight RMS used to scale updates.
        multiply_by_parameter_scale: bool.
        clipping_threshold: float or None, the largest update RMS.
        min_dim_size_to_factor: int.
        exclude_from_parameter_scale: list of regular expressions matched against
            the weights' paths (`re.search`), exempt from parameter scaling.

    Example:

    >>> weight = keras.Variable(np.full((2, 2), 2.0, "float32"))
    >>> optimizer = AdaFactor(learning_rate=0.1)
    >>> optimizer.apply([ops.convert_to_tensor(np.ones((2, 2), "float32"))], [weight])
    >>> np.round(ops.convert_to_numpy(weight).astype(float), 4).tolist()  # 2 - 0.1 * rms(w) * 1
    [[1.8, 1.8], [1.8, 1.8]]
    """


AdaFactorV1 = AdaFactor
AdaFactorV2 = AdaFactor
LionV2 = Lion


@export_to_custom_objects
def extend_with_weight_decay(BaseOptimizer):
    """A subclass of `BaseOptimizer` with decoupled weight decay: each weight's
    new value loses `learning_rate * weight_decay_rate * weight` (its value before
    the step).

    The class takes `weight_decay_rate` (default 0.01) and
    `exclude_from_weight_decay` (regular expressions searched in the weights'
    paths, e.g. `["bias", "norm"]`), besides `BaseOptimizer`'s arguments. The
    exclusions are kept in `weight_decay_exclusions` (bert4keras's attribute name
    would hide Keras's `exclude_from_weight_decay` method). The learning rate is
    the one the step uses (with `extend_with_piecewise_linear_lr`'s multiplier).
    `name` names and registers the class (bert4keras's `export_to_custom_objects`).

    Example:

    >>> AdamW = extend_with_weight_decay(Adam, "AdamW")
    >>> weight = keras.Variable(np.array([1.0, 2.0], "float32"))
    >>> optimizer = AdamW(learning_rate=0.1, weight_decay_rate=0.5)
    >>> optimizer.apply([ops.zeros((2,))], [weight])  # no gradient: only the decay
    >>> np.round(ops.convert_to_numpy(weight).astype(float), 4).tolist()
    [0.95, 1.9]
    """

    class NewOptimizer(*_hooked(BaseOptimizer)):
        def __init__(self, *args, weight_decay_rate=0.01, exclude_from_weight_decay=(), **kwargs):
            super().__init__(*args, **kwargs)
            self.weight_decay_rate = weight_decay_rate
            self.weight_decay_exclusions = list(exclude_from_weight_decay or ())

        def update_step(self, gradient, variable, learning_rate):
            self._run_inner_step(NewOptimizer, gradient, variable, learning_rate)

        def _do_weight_decay(self, variable):
            return not _matches(self._variable_path(variable), self.weight_decay_exclusions)

        def _transform_assign(self, variable, value):
            value = super()._transform_assign(variable, value)
            if (
                self._is_active(NewOptimizer)
                and self._is_model_variable(variable)
                and self._do_weight_decay(variable)
            ):
                lr = ops.cast(self._decayed_lr(), value.dtype)
                value = value - lr * self.weight_decay_rate * _read(variable)
            return value

        def get_config(self):
            return {
                **super().get_config(),
                "weight_decay_rate": self.weight_decay_rate,
                "exclude_from_weight_decay": list(self.weight_decay_exclusions),
            }

    return NewOptimizer


@export_to_custom_objects
def extend_with_layer_adaptation(BaseOptimizer):
    """A subclass of `BaseOptimizer` with layer-wise adaptation (LAMB's trust
    ratio, https://arxiv.org/abs/1904.00962): each weight's update `dx` (all the
    inner step does, weight decay included when that extension is inside) becomes
    `dx * ||w|| / ||dx / lr||` (`lr` floored at `keras.config.epsilon()`), left as
    it is where either norm is 0.

    The class takes `exclude_from_layer_adaptation` (regular expressions searched
    in the weights' paths). `extend_with_layer_adaptation(extend_with_weight_decay(
    Adam))` is LAMB.

    Example:

    >>> Lamb = extend_with_layer_adaptation(Adam)
    >>> weight = keras.Variable(np.array([3.0, 4.0], "float32"))  # ||w|| = 5
    >>> Lamb(learning_rate=0.1).apply([ops.convert_to_tensor([1.0, 0.0])], [weight])
    >>> np.round(ops.convert_to_numpy(weight).astype(float), 4).tolist()  # moves lr * ||w||
    [2.5, 4.0]
    """

    class NewOptimizer(*_hooked(BaseOptimizer)):
        def __init__(self, *args, exclude_from_layer_adaptation=(), **kwargs):
            super().__init__(*args, **kwargs)
            self.exclude_from_layer_adaptation = list(exclude_from_layer_adaptation or ())

        def update_step(self, gradient, variable, learning_rate):
            self._run_inner_step(NewOptimizer, gradient, variable, learning_rate)

        def _do_layer_adaptation(self, variable):
            return not _matches(self._variable_path(variable), self.exclude_from_layer_adaptation)

        def _transform_assign(self, variable, value):
            value = super()._transform_assign(variable, value)
            if (
                self._is_active(NewOptimizer)
                and self._is_model_variable(variable)
                and self._do_layer_adaptation(variable)
            ):
                before = _read(variable)
                delta = value - before
                lr = ops.maximum(ops.cast(self._decayed_lr(), value.dtype), keras.config.epsilon())
                weight_norm = ops.sqrt(ops.sum(ops.square(before)))
                update_norm = ops.sqrt(ops.sum(ops.square(delta / lr)))
                safe = ops.where(update_norm > 0.0, update_norm, 1.0)
                ratio = ops.where(
                    weight_norm > 0.0, ops.where(update_norm > 0.0, weight_norm / safe, 1.0), 1.0
                )
                value = before + delta * ratio
            return value

        def get_config(self):
            return {
                **super().get_config(),
                "exclude_from_layer_adaptation": list(self.exclude_from_layer_adaptation),
            }

    return NewOptimizer


@export_to_custom_objects
def extend_with_piecewise_linear_lr(BaseOptimizer):
    """A subclass of `BaseOptimizer` whose learning rate is multiplied by a
    piecewise-linear function of the step (kerastack.training's `PiecewiseLinear`).

    The class takes `lr_schedule`, a dict `{step: multiplier}` (default `{0: 1}`):
    `{1000: 1, 2000: 0.1}` rises from 0 to 1 over steps 0-1000, falls to 0.1 at
    2000 and stays there. Steps count `optimizer.iterations` from 0.

    Example:

    >>> Warmup = extend_with_piecewise_linear_lr(keras.optimizers.SGD)
    >>> weight = keras.Variable(np.zeros(1, "float32"))
    >>> optimizer = Warmup(learning_rate=1.0, lr_schedule={2: 1.0})
    >>> for _ in range(3):
    ...     optimizer.apply([-ops.ones((1,))], [weight])  # multipliers 0, 0.5, 1
    >>> ops.convert_to_numpy(weight).tolist()
    [1.5]
    """

    class NewOptimizer(*_hooked(BaseOptimizer)):
        def __init__(self, *args, lr_schedule=None, **kwargs):
            super().__init__(*args, **kwargs)
            schedule = {0: 1} if lr_schedule is None else lr_schedule
            self.lr_schedule = {int(step): value for step, value in schedule.items()}
            self._lr_multiplier = PiecewiseLinear(sorted(self.lr_schedule.items()))

        def _decayed_lr(self):
            rate = super()._decayed_lr()
            return rate * ops.cast(self._lr_multiplier(self.iterations), rate.dtype)

        def get_config(self):
            return {**super().get_config(), "lr_schedule": dict(self.lr_schedule)}

    return NewOptimizer


@export_to_custom_objects
def extend_with_gradient_accumulation(BaseOptimizer):
    """A subclass of `BaseOptimizer` that updates the weights once every
    `grad_accum_steps` batches, as bert4keras's tf.keras version does.

    At steps `t` with `t % grad_accum_steps == 0` the inner step runs on the mean
    of the gradients accumulated since the last such step, *not counting the
    current batch* (which starts the next accumulation); at other steps the
    weights and the inner optimizer's state stay as they are. So the first step
    applies a zero gradient, and the last `grad_accum_steps - 1` batches of a run
    are never applied. `optimizer.iterations` counts batches (the inner
    optimizer's bias corrections and schedules see batches). For Keras's own
    accumulation, which averages the current batch in, use
    `gradient_accumulation_steps=` or kerastack.training's `GradientAccumulation`.

    Example:

    >>> Accumulating = extend_with_gradient_accumulation(keras.optimizers.SGD)
    >>> weight = keras.Variable(np.zeros(1, "float32"))
    >>> optimizer = Accumulating(learning_rate=1.0, grad_accum_steps=2)
    >>> for g in (1.0, 3.0, 5.0):  # step 2 applies the mean of 1 and 3
    ...     optimizer.apply([ops.convert_to_tensor([g])], [weight])
    >>> ops.convert_to_numpy(weight).tolist()
    [-2.0]
    """

    class NewOptimizer(*_hooked(BaseOptimizer)):
        def __init__(self, *args, grad_accum_steps=2, **kwargs):
            super().__init__(*args, **kwargs)
            self.grad_accum_steps = grad_accum_steps

        def build(self, var_list):
            if self.built:
                return
            super().build(var_list)
            self._accumulated_grads = self.add_optimizer_variables(var_list, "ag")

        def update_step(self, gradient, variable, learning_rate):
            accumulated = self._slot(self._accumulated_grads, variable)
            is_update = ops.equal(ops.mod(self.iterations, self.grad_accum_steps), 0)
            self._hook_state()[NewOptimizer] = is_update
            mean = _read(accumulated) / self.grad_accum_steps
            self._run_inner_step(NewOptimizer, mean, variable, learning_rate)
            gradient = ops.cast(_dense(gradient, variable), accumulated.dtype)
            self.assign(accumulated, ops.where(is_update, 0.0, _read(accumulated)))
            self.assign(accumulated, _read(accumulated) + gradient)

        def _transform_assign(self, variable, value):
            value = super()._transform_assign(variable, value)
            if self._is_active(NewOptimizer):
                value = ops.where(self._hook_state()[NewOptimizer], value, _read(variable))
            return value

        def get_config(self):
            return {**super().get_config(), "grad_accum_steps": self.grad_accum_steps}

    return NewOptimizer


@export_to_custom_objects
def extend_with_lookahead(BaseOptimizer):
    """A subclass of `BaseOptimizer` with Lookahead (https://arxiv.org/abs/1907.08610)
    as bert4keras has it: at steps `t` with `t % steps_per_slow_update == 0`
    (after the inner step), the slow weights move `slow_step_size` of the way to
    the weights and the weights are set to them.

    As in bert4keras the slow weights start at zero and the first step (t = 0)
    is a sync step, so the first update scales the weights by `slow_step_size`.

    Example:

    >>> Lookahead = extend_with_lookahead(keras.optimizers.SGD)
    >>> weight = keras.Variable(np.full(1, 4.0, "float32"))
    >>> optimizer = Lookahead(learning_rate=1.0, steps_per_slow_update=2)
    >>> optimizer.apply([ops.zeros((1,))], [weight])  # slow = 0 + 0.5 * (4 - 0)
    >>> ops.convert_to_numpy(weight).tolist()
    [2.0]
    """

    class NewOptimizer(*_hooked(BaseOptimizer)):
        def __init__(self, *args, steps_per_slow_update=5, slow_step_size=0.5, **kwargs):
            super().__init__(*args, **kwargs)
            self.steps_per_slow_update = steps_per_slow_update
            self.slow_step_size = slow_step_size

        def build(self, var_list):
            if self.built:
                return
            super().build(var_list)
            self._slow_weights = self.add_optimizer_variables(var_list, "slow_var")

        def update_step(self, gradient, variable, learning_rate):
            super().update_step(gradient, variable, learning_rate)
            slow = self._slot(self._slow_weights, variable)
            is_sync = ops.equal(ops.mod(self.iterations, self.steps_per_slow_update), 0)
            moved = _read(slow) + self.slow_step_size * (_read(variable) - _read(slow))
            self.assign(slow, ops.where(is_sync, moved, _read(slow)))
            self.assign(variable, ops.where(is_sync, _read(slow), _read(variable)))

        def get_config(self):
            return {
                **super().get_config(),
                "steps_per_slow_update": self.steps_per_slow_update,
                "slow_step_size": self.slow_step_size,
            }

    return NewOptimizer


@export_to_custom_objects
def extend_with_lazy_optimization(BaseOptimizer):
    """A subclass of `BaseOptimizer` that leaves unchanged the rows (slices along
    the last axis) of the weights matched by `include_in_lazy_optimization`
    (regular expressions searched in the weights' paths, e.g. `["embeddings"]`)
    whose gradient is all zero: an embedding row of a token not in the batch keeps
    its value though Adam's momentum would move it.

    The gradients are dense here (TensorFlow's `IndexedSlices` of an embedding
    lookup are made dense first, as bert4keras's tf.keras version made them), and
    the rows are found from their zeros, so the behaviour is bert4keras's: only
    the optimizer's own state (e.g. Adam's moments) still updates for those rows.

    Example:

    >>> Lazy = extend_with_lazy_optimization(Adam)
    >>> weight = keras.Variable(np.ones((2, 2), "float32"), name="embeddings")
    >>> optimizer = Lazy(learning_rate=0.1, include_in_lazy_optimization=["embeddings"])
    >>> optimizer.apply([ops.convert_to_tensor([[1.0, 1.0], [0.0, 0.0]])], [weight])
    >>> optimizer.apply([ops.zeros((2, 2))], [weight])  # momentum alone: lazily skipped
    >>> np.round(ops.convert_to_numpy(weight).astype(float), 4).tolist()
    [[0.9, 0.9], [1.0, 1.0]]
    """

    class NewOptimizer(*_hooked(BaseOptimizer)):
        def __init__(self, *args, include_in_lazy_optimization=(), **kwargs):
            super().__init__(*args, **kwargs)
            self.include_in_lazy_optimization = list(include_in_lazy_optimization or ())

        def update_step(self, gradient, variable, learning_rate):
            self._hook_state()[NewOptimizer] = _dense(gradient, variable)
            self._run_inner_step(NewOptimizer, gradient, variable, learning_rate)

        def _do_lazy_optimization(self, variable):
            return _matches(self._variable_path(variable), self.include_in_lazy_optimization)

        def _transform_assign(self, variable, value):
            value = super()._transform_assign(variable, value)
            if (
                self._is_active(NewOptimizer)
                and self._is_model_variable(variable)
                and self._do_lazy_optimization(variable)
            ):
                gradient = self._hook_state()[NewOptimizer]
                moved = ops.any(ops.not_equal(gradient, 0.0), axis=-1, keepdims=True)
                before = _read(variable)
                value = before + (value - before) * ops.cast(moved, value.dtype)
            return value

        def get_config(self):
            return {
                **super().get_config(),
                "include_in_lazy_optimization": list(self.include_in_lazy_optimization),
            }

    return NewOptimizer


@export_to_custom_objects
def extend_with_exponential_moving_average(BaseOptimizer):
    """A subclass of `BaseOptimizer` that keeps a moving average of the weights,
    `ema = ema_momentum * ema + (1 - ema_momentum) * weight` after each step,
    starting from zero (bert4keras's; Keras's `use_ema` starts from the weights).

    The class takes `ema_momentum` (default 0.999; it takes the place of Keras's
    argument of that name, and Keras's `use_ema` should stay off). Methods:
    `apply_ema_weights(bias_correction=True)` saves the weights and puts the
    average in the model (divided by `1 - ema_momentum**iterations`), and
    `reset_old_weights()` puts the saved weights back. `model_weights` and
    `ema_weights` list the variables.

    Example:

    >>> Averaging = extend_with_exponential_moving_average(keras.optimizers.SGD)
    >>> weight = keras.Variable(np.zeros(1, "float32"))
    >>> optimizer = Averaging(learning_rate=1.0, ema_momentum=0.5)
    >>> for _ in range(2):
    ...     optimizer.apply([-ops.ones((1,))], [weight])  # weights 1, 2; ema 0.5, 1.25
    >>> optimizer.apply_ema_weights()  # 1.25 / (1 - 0.5**2)
    >>> np.round(ops.convert_to_numpy(weight).astype(float), 4).tolist()
    [1.6667]
    >>> optimizer.reset_old_weights()
    >>> ops.convert_to_numpy(weight).tolist()
    [2.0]
    """

    class NewOptimizer(*_hooked(BaseOptimizer)):
        def __init__(self, *args, ema_momentum=0.999, **kwargs):
            super().__init__(*args, **kwargs)
            self.ema_momentum = ema_momentum

        def build(self, var_list):
            if self.built:
                return
            super().build(var_list)
            self._averages = self.add_optimizer_variables(var_list, "ema")

        def update_step(self, gradient, variable, learning_rate):
            super().update_step(gradient, variable, learning_rate)
            average = self._slot(self._averages, variable)
            momentum = self.ema_momentum
            self.assign(average, _read(average) * momentum + _read(variable) * (1.0 - momentum))

        @property
        def model_weights(self):
            return list(self._trainable_variables)

        @property
        def ema_weights(self):
            return list(self._averages)

        def apply_ema_weights(self, bias_correction=True):
            """Save the weights, then put their moving average in the model."""
            self.__dict__["_old_weights"] = [ops.convert_to_numpy(w) for w in self.model_weights]
            averages = [ops.convert_to_numpy(a) for a in self.ema_weights]
            if bias_correction:
                steps = int(ops.convert_to_numpy(self.iterations))
                scale = 1.0 - np.power(self.ema_momentum, steps)
                averages = [a / scale for a in averages]
            for weight, average in zip(self.model_weights, averages, strict=True):
                weight.assign(average.astype(weight.dtype))

        def reset_old_weights(self):
            """Put back the weights `apply_ema_weights` saved."""
            for weight, old in zip(self.model_weights, self.__dict__["_old_weights"], strict=True):
                weight.assign(old)

        def get_config(self):
            return {**super().get_config(), "ema_momentum": self.ema_momentum}

    return NewOptimizer


@export_to_custom_objects
def extend_with_parameter_wise_lr(BaseOptimizer):
    """A subclass of `BaseOptimizer` whose updates are scaled per weight:
    `paramwise_lr_schedule` `{pattern: multiplier}` multiplies the update of each
    weight whose path contains `pattern` (a substring) by `multiplier`, all
    matching multipliers together.

    Example:

    >>> Scaled = extend_with_parameter_wise_lr(keras.optimizers.SGD)
    >>> a = keras.Variable(np.zeros(1, "float32"), name="kernel")
    >>> b = keras.Variable(np.zeros(1, "float32"), name="bias")
    >>> optimizer = Scaled(learning_rate=1.0, paramwise_lr_schedule={"bias": 0.1})
    >>> optimizer.apply([-ops.ones((1,)), -ops.ones((1,))], [a, b])
    >>> [np.round(ops.convert_to_numpy(v).astype(float), 4).tolist() for v in (a, b)]
    [[1.0], [0.1]]
    """

    class NewOptimizer(*_hooked(BaseOptimizer)):
        def __init__(self, *args, paramwise_lr_schedule=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.paramwise_lr_schedule = dict(paramwise_lr_schedule or {})

        def update_step(self, gradient, variable, learning_rate):
            self._run_inner_step(NewOptimizer, gradient, variable, learning_rate)

        def _transform_assign(self, variable, value):
            value = super()._transform_assign(variable, value)
            if self._is_active(NewOptimizer) and self._is_model_variable(variable):
                path = self._variable_path(variable)
                multiplier = 1.0
                for pattern, factor in self.paramwise_lr_schedule.items():
                    if pattern in path:
                        multiplier *= factor
                if multiplier != 1:
                    before = _read(variable)
                    value = before + (value - before) * multiplier
            return value

        def get_config(self):
            return {
                **super().get_config(),
                "paramwise_lr_schedule": dict(self.paramwise_lr_schedule),
            }

    return NewOptimizer


extend_with_weight_decay_v2 = extend_with_weight_decay
extend_with_layer_adaptation_v2 = extend_with_layer_adaptation
extend_with_piecewise_linear_lr_v2 = extend_with_piecewise_linear_lr
extend_with_gradient_accumulation_v2 = extend_with_gradient_accumulation
extend_with_lookahead_v2 = extend_with_lookahead
extend_with_lazy_optimization_v2 = extend_with_lazy_optimization
extend_with_exponential_moving_average_v2 = extend_with_exponential_moving_average
extend_with_parameter_wise_lr_v2 = extend_with_parameter_wise_lr

# bert4keras's module-level dict (for `load_model(..., custom_objects=...)`). Unlike
# bert4keras, it is not put in Keras's global custom objects, where "Adam" would
# shadow keras.optimizers.Adam; Adam, AdaFactor and Lion are registered as
# "kerastack>bert4keras.<name>" instead.
custom_objects = {"Adam": Adam, "AdaFactor": AdaFactor}
