"""kerastack-bert4keras's optimizers against the real bert4keras's: the weights of
a tiny model after 6 steps of each optimizer (recorded on tf-keras by
tests/conformance/make_bert4keras_optimizers.py; the tfkeras lane recomputes them
with bert4keras itself), plus NumPy checks of single steps, generic Keras bases,
config round trips and saving."""

import os

import numpy as np
import pytest

from kerastack.bert4keras import optimizers
from kerastack.core import keras, ops
from tests.conformance import make_bert4keras_optimizers as references

RECORDED = np.load(references.OUTPUT)
# 6 float32 steps of updates of about 1e-2 each on weights of size ~1: measured
# at most 1.9e-6 from tf-keras's on torch (the adam_no_bias_correction case, whose
# steps are largest), from the order of float32 operations; 1e-5 leaves room for
# the other backends.
ATOL = 1e-5


def _trained(case):
    optimizer = references.make_optimizer(optimizers, case)
    return optimizer, references.train(keras, optimizer)


@pytest.mark.parametrize("case", list(references.CASES))
def test_trained_weights_equal_bert4keras(case):
    _, model = _trained(case)
    weights = model.get_weights()
    for name, weight in zip(references.WEIGHT_NAMES, weights, strict=True):
        np.testing.assert_allclose(
            weight, RECORDED[f"{case}/{name}"], rtol=0, atol=ATOL, err_msg=f"{case}/{name}"
        )
    # The case trains at all (a no-op optimizer would pass trivially otherwise).
    assert max(np.abs(w - s).max() for w, s in zip(weights, references.WEIGHTS, strict=True)) > 1e-3


def test_ema_weights_equal_bert4keras_and_reset():
    case = "exponential_moving_average"
    optimizer, model = _trained(case)
    trained = model.get_weights()
    optimizer.apply_ema_weights()
    for name, weight in zip(references.WEIGHT_NAMES, model.get_weights(), strict=True):
        np.testing.assert_allclose(
            weight, RECORDED[f"{case}/ema/{name}"], rtol=0, atol=ATOL, err_msg=name
        )
    optimizer.reset_old_weights()
    for before, after in zip(trained, model.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)


def test_lazy_optimization_keeps_rows_without_gradient():
    # Feature 0 is zero after the first batch: row 0 of dense/kernel moves in
    # step 1 only, where plain Adam's momentum keeps moving it.
    _, lazy = _trained("lazy_optimization")
    _, plain = _trained("adam")
    lazy_row, plain_row = lazy.get_weights()[0][0], plain.get_weights()[0][0]
    assert np.abs(lazy_row - plain_row).max() > 1e-3
    np.testing.assert_allclose(lazy.get_weights()[0][1:], plain.get_weights()[0][1:], atol=1e-6)


def _numpy_adam(weight, grads, lr=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-6):
    m = np.zeros_like(weight)
    v = np.zeros_like(weight)
    for t, g in enumerate(grads, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
        weight = weight - lr * m_hat / (np.sqrt(v_hat) + epsilon)
    return weight


def test_adam_is_bert4keras_formula_not_keras_adam():
    # Small gradients make the epsilon placement visible: bert4keras adds epsilon
    # to sqrt(v_hat), Keras 3's Adam to the uncorrected sqrt(v).
    rng = np.random.default_rng(0)
    start = rng.normal(size=(3,)).astype("float64")
    grads = [rng.normal(scale=1e-6, size=(3,)) for _ in range(3)]
    expected = _numpy_adam(start, grads)
    results = {}
    for name, optimizer in (
        ("bert4keras", optimizers.Adam(0.01)),
        ("keras", keras.optimizers.Adam(0.01, epsilon=1e-6)),
    ):
        weight = keras.Variable(start.astype("float32"))
        for g in grads:
            optimizer.apply([ops.convert_to_tensor(g.astype("float32"))], [weight])
        results[name] = ops.convert_to_numpy(weight)
    np.testing.assert_allclose(results["bert4keras"], expected, rtol=0, atol=1e-6)
    assert np.abs(results["keras"] - expected).max() > 1e-4


def test_extensions_wrap_any_keras_optimizer():
    # SGD with decoupled weight decay and a lookahead, by hand in NumPy.
    cls = optimizers.extend_with_lookahead(
        optimizers.extend_with_weight_decay(keras.optimizers.SGD)
    )
    optimizer = cls(
        learning_rate=0.1, weight_decay_rate=0.5, steps_per_slow_update=2, slow_step_size=0.5
    )
    weight = keras.Variable(np.array([1.0, -2.0], "float32"))
    w, slow = np.array([1.0, -2.0]), np.zeros(2)
    for t, g in enumerate([np.array([1.0, 2.0]), np.array([-1.0, 0.5]), np.array([3.0, 1.0])]):
        optimizer.apply([ops.convert_to_tensor(g.astype("float32"))], [weight])
        w = w - 0.1 * g - 0.1 * 0.5 * w
        if t % 2 == 0:
            slow = slow + 0.5 * (w - slow)
            w = slow.copy()
    np.testing.assert_allclose(ops.convert_to_numpy(weight), w, rtol=0, atol=1e-6)


def test_v2_names_are_aliases():
    for name in optimizers.__all__:
        if name.endswith("_v2"):
            assert getattr(optimizers, name) is getattr(optimizers, name[:-3])
    assert optimizers.AdaFactorV1 is optimizers.AdaFactor is optimizers.AdaFactorV2
    assert optimizers.LionV2 is optimizers.Lion


def test_name_registers_the_class():
    cls = optimizers.extend_with_weight_decay(optimizers.Adam, "AdamWTestName")
    assert cls.__name__ == "AdamWTestName"
    assert keras.saving.get_custom_objects()["AdamWTestName"] is cls


def test_base_must_be_an_optimizer_class():
    with pytest.raises(ValueError, match="BaseOptimizer"):
        optimizers.extend_with_weight_decay(optimizers.Adam(0.1))


@pytest.mark.parametrize("case", list(references.CASES))
def test_config_round_trip(case):
    optimizer = references.make_optimizer(optimizers, case)
    config = optimizer.get_config()
    again = type(optimizer).from_config(config)
    assert again.get_config() == config
    for key, value in references.CASES[case][2].items():
        if key == "lr_schedule":
            assert config[key] == {int(k): v for k, v in value.items()}
        elif key == "learning_rate" and value is not None:
            assert config[key] == pytest.approx(value)  # Keras keeps it as a float32 variable
        else:
            assert config[key] == value, key


def test_saved_model_resumes_training(tmp_path):
    cls = optimizers.extend_with_lookahead(
        optimizers.extend_with_weight_decay(optimizers.Adam), "AdamWLookaheadSaveTest"
    )

    def optimizer():
        return cls(learning_rate=0.01, weight_decay_rate=0.1, steps_per_slow_update=4)

    model = references.train(keras, optimizer())
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.optimizer) is cls
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables, strict=True):
        np.testing.assert_array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))
    for m in (model, loaded):
        m.fit(references.INPUTS, references.TARGETS, batch_size=2, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize("lazy", [True, False])
def test_lazy_optimization_on_embeddings(lazy):
    # TensorFlow hands embedding gradients over as IndexedSlices: they work too.
    cls = optimizers.extend_with_lazy_optimization(optimizers.Adam)
    include = ["emb"] if lazy else []
    inputs = keras.Input((3,), dtype="int32")
    hidden = keras.layers.Embedding(10, 4, name="emb")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(hidden)))
    model.compile(cls(learning_rate=0.01, include_in_lazy_optimization=include), loss="mse")
    start = model.get_weights()[0]
    model.fit(np.array([[1, 2, 3]] * 2), np.ones((2, 1)), batch_size=2, verbose=0)
    first = model.get_weights()[0]
    model.fit(np.array([[4, 5, 6]] * 2), np.ones((2, 1)), batch_size=2, verbose=0)
    second = model.get_weights()[0]
    assert np.abs(first[1:4] - start[1:4]).min() > 1e-3
    np.testing.assert_array_equal(second[[0, 7, 8, 9]], start[[0, 7, 8, 9]])
    # Rows 1-3 get no gradient in the second step: Adam's momentum moves them,
    # unless they are lazily optimized.
    moved = np.abs(second[1:4] - first[1:4]).max()
    assert moved == 0.0 if lazy else moved > 1e-3
