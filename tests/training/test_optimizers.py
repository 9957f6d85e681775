"""Optimizer tools (kerastack.training.optimizers) and the Keras built-ins they
build on, against NumPy references written here: Keras's formulas for SGD,
Adam and AdamW, LAMB's trust ratio as in the paper, numpy.interp, and the
moving average of a NumPy training trajectory.

The model is mostly one Dense layer under the mean squared error, whose
gradients NumPy computes exactly; batches are taken in order (shuffle=False).
"""

import math
import os
import re
import tempfile

import numpy as np
import pytest

from kerastack.bert import BertBackbone, BertClassifier
from kerastack.core import keras, ops
from kerastack.training.optimizers import (
    AccumulationSchedule,
    GradientAccumulation,
    LayerAdaptation,
    LearningRateMultipliers,
    PiecewiseLinear,
    ema_weights,
    layer_decay_multipliers,
)

# float32 training steps against float64 NumPy: a few roundings per step.
ATOL = 2e-6
RTOL = 1e-5

RNG = np.random.default_rng(0)
X = RNG.normal(size=(16, 4)).astype("float32")
Y = RNG.normal(size=(16, 3)).astype("float32")
KERNEL = RNG.normal(size=(4, 3)).astype("float32")
BIAS = np.zeros(3, "float32")  # zero: LAMB's ratio is 1 on the first step


def linear_model():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, name="dense")(inputs))
    model.set_weights([KERNEL, BIAS])
    return model


def fit(optimizer, batch_size, epochs=1, model=None, **kwargs):
    model = model or linear_model()
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(X, Y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0, **kwargs)
    return model


def weights(model):
    return [np.asarray(ops.convert_to_numpy(w.value), "float64") for w in model.weights]


def mse_grads(params, x, y):
    kernel, bias = params
    error = x @ kernel + bias - y
    d_pred = 2.0 * error / error.size  # mean over batch and outputs
    return [x.T @ d_pred, d_pred.sum(axis=0)]


def numpy_fit(step, batch_size, epochs=1, params=None, on_update=None):
    """Train the linear model in float64: `step(k, params, grads)` is update `k`."""
    params = params or [KERNEL.astype("float64"), BIAS.astype("float64")]
    k = 0
    for _ in range(epochs):
        for start in range(0, len(X), batch_size):
            x, y = X[start : start + batch_size], Y[start : start + batch_size]
            params = step(k, params, mse_grads(params, x.astype("float64"), y.astype("float64")))
            if on_update is not None:
                on_update(k, params)
            k += 1
    return params


def numpy_sgd(lr_of):
    return lambda k, params, grads: [p - lr_of(k) * g for p, g in zip(params, grads, strict=True)]


def numpy_adamw(lr_of, weight_decay=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Keras's AdamW (Adam when weight_decay=0): decoupled decay, then Adam
    with its bias correction folded into the rate."""
    moments = {}

    def step(k, params, grads):
        lr, t = lr_of(k), k + 1
        alpha = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        new = []
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            m, v = moments.get(i, (np.zeros_like(p), np.zeros_like(p)))
            m = m + (g - m) * (1 - beta_1)
            v = v + (g * g - v) * (1 - beta_2)
            moments[i] = (m, v)
            p = p - p * weight_decay * lr
            new.append(p - alpha * m / (np.sqrt(v) + epsilon))
        return new

    return step


def numpy_lamb(inner_step, lr_of, excluded=()):
    """LAMB's layer adaptation (You et al., 2020, algorithm 2): the inner
    step's update is `-lr * r`; the step taken is `-lr * ||x|| / ||r|| * r`,
    or the update itself where a norm is 0 or the variable is excluded."""

    def step(k, params, grads):
        lr, new = lr_of(k), inner_step(k, params, grads)
        out = []
        for i, (x, x_inner) in enumerate(zip(params, new, strict=True)):
            r = (x - x_inner) / lr
            x_norm, r_norm = np.linalg.norm(x), np.linalg.norm(r)
            trust = x_norm / r_norm if x_norm > 0 and r_norm > 0 and i not in excluded else 1.0
            out.append(x - lr * trust * r)
        return out

    return step


def numpy_ema(momentum):
    """Keras's moving average: the weights after the first update, then
    `momentum * average + (1 - momentum) * weights` after each one."""
    state = {}

    def on_update(k, params):
        if k == 0:
            state["average"] = [p.copy() for p in params]
        else:
            state["average"] = [
                momentum * a + (1 - momentum) * p
                for a, p in zip(state["average"], params, strict=True)
            ]

    return state, on_update


def assert_weights(actual, expected, atol=ATOL, rtol=RTOL):
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, atol=atol, rtol=rtol)


def max_difference(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------------------
# Gradient accumulation


KERAS_OPTIMIZERS = {
    "sgd": lambda **kw: keras.optimizers.SGD(0.1, momentum=0.9, **kw),
    "adam": lambda **kw: keras.optimizers.Adam(0.01, **kw),
    "adamw_clipped": lambda **kw: keras.optimizers.AdamW(
        0.01, weight_decay=0.1, global_clipnorm=0.05, **kw
    ),
}


@pytest.mark.parametrize("name", sorted(KERAS_OPTIMIZERS))
def test_keras_accumulation_equals_large_batch_steps(name):
    # Keras's own gradient_accumulation_steps: 4 batches of 2 per update give
    # the weights of one batch of 8, over two updates (momentum, Adam's bias
    # correction, weight decay and clipping of the mean gradient included).
    make = KERAS_OPTIMIZERS[name]
    accumulated = fit(make(gradient_accumulation_steps=4), batch_size=2)
    large_batch = fit(make(), batch_size=8)
    assert int(accumulated.optimizer.iterations) == int(large_batch.optimizer.iterations) == 2
    assert_weights(weights(accumulated), weights(large_batch))
    assert max_difference(weights(large_batch), [KERNEL, BIAS]) > 1e-2  # it did train


SCHEDULE = PiecewiseLinear({1: 0.1, 3: 0.02})  # 0, 0.1, 0.06, 0.02 at updates 0..3


def schedule_value(step):
    return float(np.interp(step, [0, 1, 3], [0.0, 0.1, 0.02]))


def test_keras_accumulation_calls_schedules_with_batches_gradient_accumulation_with_updates():
    # 16 samples, batches of 2, 4 per update: updates 0 and 1. Keras's own
    # accumulation gives update k the rate at batch 4k + 3 (0.02 and 0.02);
    # GradientAccumulation the large-batch run's rate at step k (0 and 0.1).
    keras_own = fit(keras.optimizers.SGD(SCHEDULE, gradient_accumulation_steps=4), batch_size=2)
    ours = fit(GradientAccumulation(keras.optimizers.SGD(SCHEDULE), steps=4), batch_size=2)
    large_batch = numpy_fit(numpy_sgd(schedule_value), batch_size=8)
    by_batches = numpy_fit(numpy_sgd(lambda k: schedule_value(4 * k + 3)), batch_size=8)
    assert_weights(weights(keras_own), by_batches)
    assert_weights(weights(ours), large_batch)
    assert max_difference(by_batches, large_batch) > 1e-2


def test_keras_accumulation_averages_every_batch_gradient_accumulation_every_update():
    # use_ema under 2 batches per update, 4 updates. Keras updates the
    # average after every batch (the weights stay put between updates);
    # GradientAccumulation after every update, as the large-batch run.
    momentum, steps = 0.5, 2

    def make(**kw):
        return keras.optimizers.Adam(0.05, use_ema=True, ema_momentum=momentum, **kw)

    keras_own = fit(make(gradient_accumulation_steps=steps), batch_size=2)
    ours = fit(GradientAccumulation(make(), steps=steps), batch_size=2)
    large_batch = fit(make(), batch_size=4)  # fit ends by copying the average in

    average, on_update = numpy_ema(momentum)
    numpy_fit(numpy_adamw(lambda k: 0.05), batch_size=4, on_update=on_update)
    assert_weights(weights(large_batch), average["average"])
    assert_weights(weights(ours), average["average"])

    # Keras's own, replayed batch by batch: the average moves at every batch.
    adam, trajectory = numpy_adamw(lambda k: 0.05), {}
    numpy_fit(adam, 4, on_update=lambda k, p: trajectory.__setitem__(k, p))
    per_batch = None
    for batch in range(len(X) // 2):
        update = batch // steps
        current = trajectory[update] if (batch + 1) % steps == 0 else trajectory.get(update - 1)
        current = current if current is not None else [KERNEL, BIAS]
        m = momentum if update > 0 else 0.0
        per_batch = [
            m * a + (1 - m) * p for a, p in zip(per_batch or current, current, strict=True)
        ]
    assert_weights(weights(keras_own), per_batch)
    assert max_difference(per_batch, average["average"]) > 1e-3


def test_gradient_accumulation_bad_input():
    with pytest.raises(ValueError, match="int >= 2"):
        GradientAccumulation(keras.optimizers.SGD(0.1), steps=1)
    with pytest.raises(ValueError, match="int >= 2"):
        GradientAccumulation(keras.optimizers.SGD(0.1), steps=2.5)
    inner = keras.optimizers.SGD(0.1, gradient_accumulation_steps=3)
    with pytest.raises(ValueError, match="already accumulates"):
        GradientAccumulation(inner, steps=2)
    assert inner.gradient_accumulation_steps == 3
    inner = keras.optimizers.SGD(AccumulationSchedule(SCHEDULE, 3))
    with pytest.raises(ValueError, match="counts 3 batches"):
        GradientAccumulation(inner, steps=2)
    built = keras.optimizers.SGD(0.1)
    built.build(linear_model().trainable_variables)
    with pytest.raises(ValueError, match="not built yet"):
        GradientAccumulation(built, steps=2)
    with pytest.raises(ValueError, match="LossScaleOptimizer"):
        GradientAccumulation(keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD()), steps=2)
    with pytest.raises(ValueError, match="schedules.LearningRateSchedule"):
        AccumulationSchedule(0.1, 2)


# ---------------------------------------------------------------------------
# Layer adaptation


def test_layer_adaptation_over_adam_is_keras_lamb():
    # Same trust ratio; epsilon so small that Adam's and Lamb's placements of
    # it do not matter. A two-layer model, three updates.
    def model():
        keras.utils.set_random_seed(3)
        inputs = keras.Input((4,))
        hidden = keras.layers.Dense(5, activation="tanh", bias_initializer="ones")(inputs)
        return keras.Model(inputs, keras.layers.Dense(3)(hidden))

    ours = fit(LayerAdaptation(keras.optimizers.Adam(0.02, epsilon=1e-12)), 4, model=model())
    lamb = fit(keras.optimizers.Lamb(0.02, epsilon=1e-12), 4, model=model())
    assert_weights(weights(ours), weights(lamb))
    assert max_difference(weights(lamb), weights(model())) > 1e-2


@pytest.mark.parametrize("use_ema", [False, True], ids=["raw", "ema"])
def test_layer_adaptation_over_adamw_matches_numpy_lamb(use_ema):
    # Weight decay inside the ratio (the paper's LAMB); the bias starts at 0,
    # so its first update keeps ratio 1. With use_ema, the average is of the
    # adapted weights: SwapEMAWeights validates with it and fit ends with it.
    lr = lambda k: 0.05  # noqa: E731
    inner = keras.optimizers.AdamW(0.05, weight_decay=0.1, use_ema=use_ema, ema_momentum=0.7)
    extra = {}
    if use_ema:
        extra = {"validation_data": (X, Y), "callbacks": [keras.callbacks.SwapEMAWeights()]}
    model = fit(LayerAdaptation(inner), batch_size=4, epochs=2, **extra)
    average, on_update = numpy_ema(0.7)
    epoch_end_losses = []

    def record(k, params):
        on_update(k, params)
        if k % 4 == 3:
            kernel, bias = average["average"]
            epoch_end_losses.append(float(np.mean((X @ kernel + bias - Y) ** 2)))

    raw = numpy_fit(
        numpy_lamb(numpy_adamw(lr, weight_decay=0.1), lr), 4, epochs=2, on_update=record
    )
    assert_weights(weights(model), average["average"] if use_ema else raw)
    if use_ema:
        np.testing.assert_allclose(model.history.history["val_loss"], epoch_end_losses, rtol=1e-5)


def test_layer_adaptation_zero_norms_and_exclusion():
    # A zero gradient moves nothing (no NaN from 0/0); a zero weight and an
    # excluded one take the wrapped optimizer's update unchanged.
    dense = keras.layers.Dense(3, bias_initializer="zeros")
    dense.build((None, 4))
    dense.kernel.assign(KERNEL)
    kernel_grad = RNG.normal(size=(4, 3)).astype("float32")
    optimizer = LayerAdaptation(
        keras.optimizers.Adam(0.01), exclude_from_layer_adaptation=[r"kernel$"]
    )
    grads = [ops.zeros((3,)), ops.convert_to_tensor(kernel_grad)]
    optimizer.apply_gradients(zip(grads, [dense.bias, dense.kernel], strict=True))
    np.testing.assert_array_equal(ops.convert_to_numpy(dense.bias.value), BIAS)
    adam_step = numpy_adamw(lambda k: 0.01)(0, [KERNEL.astype("float64")], [kernel_grad])[0]
    np.testing.assert_allclose(
        ops.convert_to_numpy(dense.kernel.value), adam_step, atol=ATOL, rtol=RTOL
    )
    grads = [ops.ones((3,)), ops.convert_to_tensor(kernel_grad)]
    optimizer.apply_gradients(zip(grads, [dense.bias, dense.kernel], strict=True))
    assert np.all(np.isfinite(ops.convert_to_numpy(dense.bias.value)))


def test_layer_adaptation_bad_input():
    with pytest.raises(ValueError, match="inner_optimizer"):
        LayerAdaptation("adam")
    with pytest.raises(ValueError, match="list of regular-expression"):
        LayerAdaptation(keras.optimizers.Adam(), exclude_from_layer_adaptation="bias")
    with pytest.raises(ValueError, match="invalid regular expression"):
        LayerAdaptation(keras.optimizers.Adam(), exclude_from_layer_adaptation=["("])
    with pytest.raises(ValueError, match="ema_overwrite_frequency"):
        LayerAdaptation(keras.optimizers.Adam(use_ema=True, ema_overwrite_frequency=2))


# ---------------------------------------------------------------------------
# Piecewise-linear schedule


@pytest.mark.parametrize(
    ("points", "from_zero", "xs", "ys"),
    [
        ({1000: 1.0, 2000: 0.1}, True, [0, 1000, 2000], [0.0, 1.0, 0.1]),
        ({1000: 1.0, 2000: 0.1}, False, [1000, 2000], [1.0, 0.1]),
        ([(0, 0.5), (10, 2.0), (25, 0.0), (40, 1.0)], True, [0, 10, 25, 40], [0.5, 2.0, 0.0, 1.0]),
        ({7: 3e-4}, True, [0, 7], [0.0, 3e-4]),
        ({7: 3e-4}, False, [7], [3e-4]),
    ],
)
def test_piecewise_linear_is_numpy_interp(points, from_zero, xs, ys):
    schedule = PiecewiseLinear(points, from_zero=from_zero)
    steps = np.arange(0, 2600, 7)
    expected = np.interp(steps, xs, ys)
    actual = ops.convert_to_numpy(schedule(ops.convert_to_tensor(steps, "int32")))
    np.testing.assert_allclose(actual, expected, atol=1e-7, rtol=1e-6)
    # One step at a time, as the optimizer calls it.
    for step in (0, 999, 1000, 1001, 2000, 10**6):
        value = float(ops.convert_to_numpy(schedule(ops.convert_to_tensor(step, "int32"))))
        assert value == pytest.approx(float(np.interp(step, xs, ys)), rel=1e-6, abs=1e-9)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(restored, PiecewiseLinear)
    assert restored.get_config() == schedule.get_config()
    np.testing.assert_allclose(
        ops.convert_to_numpy(restored(steps)), expected, atol=1e-7, rtol=1e-6
    )


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ({}, "at least one"),
        ([], "at least one"),
        ({2000: 0.1, 1000: 1.0}, "strictly increasing"),
        ([(0, 1.0), (0, 2.0)], "strictly increasing"),
        ({-5: 1.0}, "non-negative"),
        ({5: -1.0}, "non-negative"),
        ({5: float("nan")}, "finite"),
        ([(5,)], r"\(step, value\) pair"),
        ([("5", 1.0)], r"\(step, value\) pair"),
    ],
)
def test_piecewise_linear_bad_input(points, message):
    with pytest.raises(ValueError, match=message):
        PiecewiseLinear(points)


def test_piecewise_linear_drives_fit():
    schedule = {2: 0.2, 6: 0.0}
    model = fit(keras.optimizers.SGD(PiecewiseLinear(schedule)), batch_size=2)
    expected = numpy_fit(numpy_sgd(lambda k: np.interp(k, [0, 2, 6], [0.0, 0.2, 0.0])), 2)
    assert_weights(weights(model), expected)


# ---------------------------------------------------------------------------
# Moving average of the weights


def test_keras_use_ema_is_the_moving_average_and_fit_ends_with_it():
    optimizer = keras.optimizers.SGD(0.2, use_ema=True, ema_momentum=0.8)
    model = fit(optimizer, batch_size=4, epochs=2)
    average, on_update = numpy_ema(0.8)
    raw = numpy_fit(numpy_sgd(lambda k: 0.2), 4, epochs=2, on_update=on_update)
    # fit's finalize_variable_values copied the average into the model: the
    # raw weights are gone.
    assert_weights(weights(model), average["average"])
    assert_weights(
        [ops.convert_to_numpy(v.value) for v in optimizer._model_variables_moving_average],
        average["average"],
    )
    assert max_difference(raw, average["average"]) > 1e-2


class EpochEndProbe(keras.callbacks.Callback):
    """Records, at each epoch's end, the weights and loss inside
    `ema_weights`, then the weights after it."""

    def __init__(self):
        super().__init__()
        self.averaged, self.losses, self.raw = [], [], []

    def on_epoch_end(self, epoch, logs=None):
        with ema_weights(self.model):
            self.averaged.append(weights(self.model))
            self.losses.append(self.model.evaluate(X, Y, verbose=0))
        self.raw.append(weights(self.model))


def test_ema_weights_and_swap_ema_weights_evaluate_with_the_average_and_train_on():
    probe = EpochEndProbe()
    optimizer = keras.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.6)
    model = fit(
        optimizer,
        batch_size=4,
        epochs=2,
        validation_data=(X, Y),
        callbacks=[keras.callbacks.SwapEMAWeights(), probe],
    )
    averages, raws, ema = [], [], numpy_ema(0.6)

    def on_update(k, params):
        ema[1](k, params)
        if k % 4 == 3:  # epoch end
            averages.append(ema[0]["average"])
            raws.append(params)

    numpy_fit(numpy_adamw(lambda k: 0.05), 4, epochs=2, on_update=on_update)
    for epoch in range(2):
        assert_weights(probe.averaged[epoch], averages[epoch])
        assert_weights(probe.raw[epoch], raws[epoch])  # the raw weights are back
        loss = float(np.mean((X @ averages[epoch][0] + averages[epoch][1] - Y) ** 2))
        np.testing.assert_allclose(probe.losses[epoch], loss, rtol=1e-5)
        np.testing.assert_allclose(model.history.history["val_loss"][epoch], loss, rtol=1e-5)
    # Training went on from the raw weights: fit ends with their average.
    assert_weights(weights(model), averages[-1])
    assert max_difference(raws[0], averages[0]) > 1e-3


def test_ema_weights_restores_after_predict_and_errors():
    model = fit(keras.optimizers.SGD(0.2, use_ema=True), batch_size=4)
    raw = [np.full_like(w, 5.0) for w in weights(model)]
    model.set_weights(raw)
    average = [
        ops.convert_to_numpy(v.value) for v in model.optimizer._model_variables_moving_average
    ]
    with ema_weights(model):
        np.testing.assert_allclose(
            model.predict(X, verbose=0), X @ average[0] + average[1], atol=1e-5
        )
    assert_weights(weights(model), raw)
    with pytest.raises(ValueError, match="use_ema=True"):
        with ema_weights(fit(keras.optimizers.SGD(0.1), batch_size=4)):
            pass
    with pytest.raises(ValueError, match="use_ema=True"):
        with ema_weights(linear_model()):  # not compiled
            pass


# ---------------------------------------------------------------------------
# Layer-wise learning-rate decay


def tiny_backbone(num_layers):
    keras.utils.set_random_seed(5)
    return BertBackbone(
        vocabulary_size=11,
        num_layers=num_layers,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=12,
        dropout=0.0,
        max_sequence_length=6,
    )


def bert_depth(path, num_layers):
    """Written again here: depth from the top of a BERT variable."""
    block = re.match(r"transformer_layer_(\d+)/", path)
    if block:
        return num_layers - int(block.group(1))
    embeddings = ("token_embedding", "position_embedding", "segment_embedding")
    if path.split("/")[0] in (*embeddings, "embeddings_layer_norm"):
        return num_layers + 1
    return 0


def test_layer_decay_scales_adams_first_update_by_depth():
    # Adam's first update is -lr * g / (|g| + eps / sqrt(1 - beta_2)): about
    # -lr * sign(g). Block i of L moves lr * decay**(L - i) times that.
    num_layers, decay, lr = 2, 0.5, 0.01
    backbone = tiny_backbone(num_layers)
    multipliers = layer_decay_multipliers(backbone, decay)
    optimizer = LearningRateMultipliers(keras.optimizers.Adam(lr), multipliers)
    variables = backbone.trainable_variables
    before = [ops.convert_to_numpy(v.value).astype("float64") for v in variables]
    grads = [RNG.normal(size=v.shape).astype("float32") for v in variables]
    optimizer.apply_gradients(zip(map(ops.convert_to_tensor, grads), variables, strict=True))
    adam = numpy_adamw(lambda k: lr)(0, before, [g.astype("float64") for g in grads])
    depths = set()
    for variable, old, plain, grad in zip(variables, before, adam, grads, strict=True):
        depth = bert_depth(variable.path, num_layers)
        depths.add(depth)
        expected = old + decay**depth * (plain - old)
        np.testing.assert_allclose(
            ops.convert_to_numpy(variable.value),
            expected,
            atol=1e-7,
            rtol=1e-6,
            err_msg=variable.path,
        )
        step = np.abs(ops.convert_to_numpy(variable.value) - old)  # sign-ish: lr * decay**depth
        np.testing.assert_allclose(step[np.abs(grad) > 1e-3], lr * decay**depth, rtol=1e-2)
    assert depths == {0, 1, 2, 3}


def test_layer_decay_multipliers_bert_classifier_and_custom_depths():
    backbone = tiny_backbone(3)
    classifier = BertClassifier(backbone, num_classes=2, dropout=0.0)
    multipliers = layer_decay_multipliers(classifier, 0.8)
    expected = {
        v.path: 0.8 ** bert_depth(v.path, 3)
        for v in classifier.trainable_variables
        if bert_depth(v.path, 3)
    }
    assert multipliers == pytest.approx(expected)
    assert not any(p.startswith(("classifier/", "pooled_dense/")) for p in multipliers)
    assert multipliers["token_embedding/embeddings"] == pytest.approx(0.8**4)

    model = keras.Sequential(
        [keras.Input((4,))] + [keras.layers.Dense(4, name=f"block_{i}") for i in range(3)],
        name="stack",
    )

    def depth_of(path):
        return 3 - int(re.search(r"block_(\d)/", path).group(1)) - 1

    assert layer_decay_multipliers(model, 0.5, depth_of) == {
        "stack/block_0/kernel": 0.25,
        "stack/block_0/bias": 0.25,
        "stack/block_1/kernel": 0.5,
        "stack/block_1/bias": 0.5,
    }
    with pytest.raises(ValueError, match="pass `depth_of`"):
        layer_decay_multipliers(model, 0.5)
    with pytest.raises(ValueError, match="int >= 0"):
        layer_decay_multipliers(model, 0.5, lambda path: -1)
    for decay in (0, 1.5, True):
        with pytest.raises(ValueError, match=r"in \(0, 1\]"):
            layer_decay_multipliers(model, decay)


def test_layer_decay_fits_a_bert_classifier():
    # One fit step. Adam's state after it holds the gradient g (m = 0.1 g,
    # v = 0.001 g**2); each update is its factor times Adam's first step.
    lr, decay = 0.01, 0.3
    classifier = BertClassifier(tiny_backbone(1), num_classes=2, dropout=0.0)
    inner = keras.optimizers.Adam(lr)
    classifier.compile(
        optimizer=LearningRateMultipliers(inner, layer_decay_multipliers(classifier, decay)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    before = weights(classifier)
    inputs = {
        "token_ids": RNG.integers(0, 11, size=(4, 6)).astype("int32"),
        "segment_ids": np.zeros((4, 6), "int32"),
        "padding_mask": np.ones((4, 6), "int32"),
    }
    classifier.fit(inputs, np.array([0, 1, 1, 0]), batch_size=4, epochs=1, verbose=0)
    alpha = lr * math.sqrt(1 - 0.999) / (1 - 0.9)
    moved = set()
    for variable, old, new in zip(classifier.weights, before, weights(classifier), strict=True):
        index = inner._get_variable_index(variable)
        m = ops.convert_to_numpy(inner._momentums[index].value).astype("float64")
        v = ops.convert_to_numpy(inner._velocities[index].value).astype("float64")
        np.testing.assert_allclose(v, 0.001 * (m / 0.1) ** 2, rtol=1e-5, atol=1e-12)
        factor = decay ** bert_depth(variable.path, 1)
        expected = old - factor * alpha * m / (np.sqrt(v) + 1e-7)
        np.testing.assert_allclose(new, expected, atol=1e-7, rtol=1e-5, err_msg=variable.path)
        if np.any(m != 0):
            moved.add(bert_depth(variable.path, 1))
    assert moved == {0, 1, 2}


def test_learning_rate_multipliers_match_numpy_over_several_steps():
    # AdamW, kernel at half rate (its weight decay too), bias frozen.
    optimizer = LearningRateMultipliers(
        keras.optimizers.AdamW(0.05, weight_decay=0.2), {"dense/kernel": 0.5, "dense/bias": 0.0}
    )
    model = fit(optimizer, batch_size=4)
    adamw = numpy_adamw(lambda k: 0.05, weight_decay=0.2)

    def step(k, params, grads):
        new = adamw(k, params, grads)
        return [p + f * (q - p) for p, q, f in zip(params, new, (0.5, 0.0), strict=True)]

    assert_weights(weights(model), numpy_fit(step, 4))
    np.testing.assert_array_equal(weights(model)[1], BIAS)


def test_learning_rate_multipliers_bad_input():
    for multipliers, message in [
        ([0.5], "must be a dict"),
        ({"dense/kernel": -1.0}, "non-negative"),
        ({"dense/kernel": float("inf")}, "finite"),
        ({3: 0.5}, "variable paths"),
    ]:
        with pytest.raises(ValueError, match=message):
            LearningRateMultipliers(keras.optimizers.Adam(), multipliers)
    optimizer = LearningRateMultipliers(keras.optimizers.Adam(), {"dense/kernal": 0.5})
    with pytest.raises(ValueError, match=r"not built with: \['dense/kernal'\]"):
        optimizer.build(linear_model().trainable_variables)


# ---------------------------------------------------------------------------
# All of them together, saved with the model


def test_nested_wrappers_save_load_and_train_on():
    def optimizer():
        inner = keras.optimizers.AdamW(
            PiecewiseLinear({2: 0.05, 8: 0.01}), weight_decay=0.01, use_ema=True
        )
        return LearningRateMultipliers(
            LayerAdaptation(
                GradientAccumulation(inner, steps=2), exclude_from_layer_adaptation=["bias"]
            ),
            {"dense/kernel": 0.5},
        )

    model = fit(optimizer(), batch_size=2)
    assert int(model.optimizer.iterations) == 4
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        restored = keras.saving.load_model(path)
    assert type(restored.optimizer) is LearningRateMultipliers
    assert restored.optimizer.get_config() == model.optimizer.get_config()
    inner = restored.optimizer.inner_optimizer.inner_optimizer.inner_optimizer
    assert inner.gradient_accumulation_steps == 2
    assert isinstance(inner._learning_rate, AccumulationSchedule)  # wrapped once, not twice
    assert isinstance(inner._learning_rate.schedule, PiecewiseLinear)
    assert_weights(
        [ops.convert_to_numpy(v.value) for v in restored.optimizer.variables],
        [ops.convert_to_numpy(v.value) for v in model.optimizer.variables],
        atol=0,
        rtol=0,
    )
    # Both go on training: `model` after a fit that ended by copying the
    # average in (which, done as Keras does it, breaks a second fit on JAX).
    for m in (model, restored):
        m.fit(X, Y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    assert_weights(weights(restored), weights(model), atol=1e-7, rtol=1e-6)
    assert int(restored.optimizer.iterations) == 8
