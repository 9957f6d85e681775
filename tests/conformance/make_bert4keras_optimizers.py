"""Weights after a few training steps with the real bert4keras's optimizers (each
`extend_with_*` extension, stacks of them, `Adam`, `AdaFactor`, `Lion`), the
references kerastack-bert4keras's optimizers are checked against on every Keras 3
lane.

A tiny fixed model (two Dense layers, weights from seeded NumPy) trains for 6 steps
of 2 rows on fixed data with `fit`. The same `make_optimizer` and `train` build and
train the model here (tf-keras, bert4keras 0.11.5) and in
tests/bert4keras/test_optimizers.py (Keras 3, kerastack.bert4keras.optimizers).

Run on tf-keras with bert4keras 0.11.5 installed (the tfkeras lane's environment;
it recomputes them there in tests/bert4keras_real):

    TF_KERAS=1 TF_USE_LEGACY_KERAS=1 python -m tests.conformance.make_bert4keras_optimizers

bert4keras 0.11.5's tf.keras optimizers are written for `OptimizerV2` (tf.keras up to
2.10), which tf-keras 2.21 keeps as `keras.optimizers.legacy.Optimizer`:
`compute()` points `keras.optimizers.Optimizer` there before importing
`bert4keras.optimizers`. bert4keras's `AdaFactor` with a numeric `learning_rate`
creates a variable on every read (its `hasattr(self, '__learning_rate')` never
holds), which `tf.function` refuses, so those cases train eagerly.
"""

import importlib
import os
import sys

import numpy as np

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
OUTPUT = os.path.join(FIXTURES, "bert4keras", "optimizers.npz")

STEPS, BATCH = 6, 2
_rng = np.random.default_rng(19)
INPUTS = _rng.normal(size=(STEPS * BATCH, 5)).astype("float32")
# Feature 0 is non-zero in the first batch only: row 0 of dense/kernel then gets
# zero gradients (extend_with_lazy_optimization keeps it).
INPUTS[BATCH:, 0] = 0.0
TARGETS = _rng.normal(size=(STEPS * BATCH, 3)).astype("float32")
WEIGHTS = [
    _rng.normal(scale=0.5, size=(5, 4)).astype("float32"),
    _rng.normal(scale=0.1, size=(4,)).astype("float32"),
    _rng.normal(scale=0.5, size=(4, 3)).astype("float32"),
    _rng.normal(scale=0.1, size=(3,)).astype("float32"),
]
WEIGHT_NAMES = ["dense/kernel", "dense/bias", "out/kernel", "out/bias"]

ADAM = {"learning_rate": 0.01}
# name -> (base class, extensions from the innermost out, constructor arguments)
CASES = {
    "adam": ("Adam", [], ADAM),
    "adam_no_bias_correction": ("Adam", [], {**ADAM, "bias_correction": False}),
    "weight_decay": (
        "Adam",
        ["weight_decay"],
        {**ADAM, "weight_decay_rate": 0.1, "exclude_from_weight_decay": ["bias"]},
    ),
    "layer_adaptation": (
        "Adam",
        ["layer_adaptation"],
        {**ADAM, "exclude_from_layer_adaptation": ["out/bias"]},
    ),
    "lamb": (
        "Adam",
        ["weight_decay", "layer_adaptation"],
        {**ADAM, "weight_decay_rate": 0.05, "exclude_from_weight_decay": ["bias"]},
    ),
    "piecewise_linear_lr": (
        "Adam",
        ["piecewise_linear_lr"],
        {**ADAM, "lr_schedule": {2: 1, 4: 0.5}},
    ),
    "piecewise_linear_lr_weight_decay": (
        "Adam",
        ["piecewise_linear_lr", "weight_decay"],
        {**ADAM, "lr_schedule": {3: 1}, "weight_decay_rate": 0.1},
    ),
    "gradient_accumulation": ("Adam", ["gradient_accumulation"], {**ADAM, "grad_accum_steps": 2}),
    "gradient_accumulation_weight_decay": (
        "Adam",
        ["weight_decay", "gradient_accumulation"],
        {**ADAM, "grad_accum_steps": 3, "weight_decay_rate": 0.1},
    ),
    "lookahead": (
        "Adam",
        ["lookahead"],
        {**ADAM, "steps_per_slow_update": 2, "slow_step_size": 0.5},
    ),
    "lookahead_weight_decay": (
        "Adam",
        ["lookahead", "weight_decay"],
        {**ADAM, "steps_per_slow_update": 3, "weight_decay_rate": 0.1},
    ),
    "lazy_optimization": (
        "Adam",
        ["lazy_optimization"],
        {**ADAM, "include_in_lazy_optimization": ["dense/kernel"]},
    ),
    "exponential_moving_average": (
        "Adam",
        ["exponential_moving_average"],
        {**ADAM, "ema_momentum": 0.9},
    ),
    "parameter_wise_lr": (
        "Adam",
        ["parameter_wise_lr"],
        {**ADAM, "paramwise_lr_schedule": {"out": 0.5, "bias": 3.0}},
    ),
    "adafactor": ("AdaFactor", [], {"learning_rate": None}),
    "adafactor_factored": (
        "AdaFactor",
        [],
        {
            "learning_rate": 0.01,
            "beta1": 0.9,
            "beta2": 0.99,
            "min_dim_size_to_factor": 3,
            "exclude_from_parameter_scale": ["bias"],
        },
    ),
    "adafactor_weight_decay": (
        "AdaFactor",
        ["weight_decay", "piecewise_linear_lr"],
        {"learning_rate": None, "weight_decay_rate": 0.1, "lr_schedule": {2: 1}},
    ),
    "lion": ("Lion", [], {"learning_rate": 0.001}),
}


def make_optimizer(module, case):
    """`CASES[case]`'s optimizer from `module` (bert4keras.optimizers or
    kerastack.bert4keras.optimizers)."""
    base, extensions, arguments = CASES[case]
    cls = getattr(module, base)
    for extension in extensions:
        cls = getattr(module, f"extend_with_{extension}")(cls)
    return cls(**arguments)


def build_model(keras):
    inputs = keras.Input((5,))
    hidden = keras.layers.Dense(4, activation="tanh", name="dense")(inputs)
    outputs = keras.layers.Dense(3, name="out")(hidden)
    model = keras.Model(inputs, outputs)
    model.set_weights(WEIGHTS)
    return model


def train(keras, optimizer, run_eagerly=False):
    """The model after `STEPS` steps of `optimizer`, and the model."""
    model = build_model(keras)
    model.compile(optimizer=optimizer, loss="mse", run_eagerly=run_eagerly)
    model.fit(INPUTS, TARGETS, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    return model


def _bert4keras_optimizers():
    from bert4keras.backend import keras

    legacy = keras.optimizers.legacy.Optimizer
    keras.optimizers.Optimizer = legacy
    module = importlib.import_module("bert4keras.optimizers")
    if not issubclass(module.Adam, legacy):
        module = importlib.reload(module)
    return keras, module


def compute():
    """`{case/weight: array}` (and `exponential_moving_average/ema/<weight>`, the
    weights `apply_ema_weights()` puts in the model) from the real bert4keras."""
    keras, module = _bert4keras_optimizers()
    results = {}
    for case, (base, _, arguments) in CASES.items():
        eager = base == "AdaFactor" and arguments.get("learning_rate") is not None
        optimizer = make_optimizer(module, case)
        model = train(keras, optimizer, run_eagerly=eager)
        for name, value in zip(WEIGHT_NAMES, model.get_weights(), strict=True):
            results[f"{case}/{name}"] = np.asarray(value, "float32")
        if case == "exponential_moving_average":
            optimizer.apply_ema_weights()
            for name, value in zip(WEIGHT_NAMES, model.get_weights(), strict=True):
                results[f"{case}/ema/{name}"] = np.asarray(value, "float32")
            optimizer.reset_old_weights()
        keras.backend.clear_session()
    return results


def main():
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    np.savez_compressed(OUTPUT, **compute())
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    sys.exit(main())
