"""BERT's optimizer: the warmup/decay schedule and weight decay that really
skips biases and layer-norm weights (keras-bert's AdamWarmup ignored its
pattern)."""

import numpy as np
import pytest

from kerastack.bert import WarmupLinearDecay, bert_optimizer
from kerastack.core import keras, ops
from kerastack.layernorm import LayerNormalization


def test_schedule_warms_up_then_decays_linearly():
    schedule = WarmupLinearDecay(1e-3, warmup_steps=10, total_steps=110)
    values = [float(ops.convert_to_numpy(schedule(step))) for step in (0, 5, 10, 60, 110, 200)]
    np.testing.assert_allclose(values, [0.0, 5e-4, 1e-3, 5e-4, 0.0, 0.0], atol=1e-9)
    restored = WarmupLinearDecay.from_config(schedule.get_config())
    assert float(ops.convert_to_numpy(restored(5))) == pytest.approx(5e-4)
    with pytest.raises(ValueError, match="warmup_steps <= total_steps"):
        WarmupLinearDecay(1e-3, warmup_steps=20, total_steps=10)


@pytest.mark.parametrize(
    "argument, value",
    [
        ("learning_rate", "1e-3"),
        ("learning_rate", float("nan")),
        ("warmup_steps", -1),
        ("warmup_steps", 2.5),
        ("total_steps", 0),
        ("total_steps", "100"),
        ("end_learning_rate", -1.0),
    ],
)
def test_schedule_arguments_are_value_errors_naming_them(argument, value):
    arguments = {"learning_rate": 1e-3, "warmup_steps": 10, "total_steps": 100, argument: value}
    with pytest.raises(ValueError, match=argument):
        WarmupLinearDecay(**arguments)
    if argument == "total_steps":
        with pytest.raises(ValueError, match=argument):
            bert_optimizer(1e-3, total_steps=value)


def test_weight_decay_skips_biases_and_layer_norm_weights():
    inputs = keras.Input(shape=(4,))
    dense = keras.layers.Dense(3, bias_initializer="ones")
    norm = LayerNormalization()
    model = keras.Model(inputs, norm(dense(inputs)))
    optimizer = bert_optimizer(1e-2, total_steps=10, warmup_steps=0, weight_decay=0.5)
    before = {id(v): np.array(v) for v in model.trainable_variables}
    # Zero gradients: Adam moves nothing, so any change is weight decay alone.
    gradients = [ops.zeros(tuple(v.shape)) for v in model.trainable_variables]
    optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
    rate = 1e-2  # step 0 of a schedule without warmup: the peak rate
    for variable in model.trainable_variables:
        after = np.array(variable)
        if _leaf_name(variable) in ("bias", "gamma", "beta"):
            np.testing.assert_array_equal(after, before[id(variable)], err_msg=variable.name)
        else:
            np.testing.assert_allclose(after, before[id(variable)] * (1 - rate * 0.5), rtol=1e-6)
    assert any(_leaf_name(v) == "kernel" for v in model.trainable_variables)


def _leaf_name(variable):
    """ "kernel" from Keras 3's name and from tf-keras's ("dense/kernel:0")."""
    return variable.name.split(":")[0].split("/")[-1]
