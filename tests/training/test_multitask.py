"""BertMultiTask: several heads on one encoder trained together, with
task-loss weights scheduled by the training step (every Keras 3 lane).

References are NumPy code written here, on the backbone's own outputs and
the heads' weights: head logits, masked cross-entropies, the schedule.
"""

import math

import numpy as np
import pytest

from kerastack.bert import BertBackbone, RobertaBackbone
from kerastack.core import keras, ops
from kerastack.training.multitask import (
    BertMultiTask,
    Task,
    TaskWeightSchedule,
    TaskWeightScheduler,
    TaskWeightShift,
    first_piece_mask,
)

TINY = dict(
    vocabulary_size=30,
    num_layers=1,
    num_heads=2,
    hidden_dim=16,
    intermediate_dim=32,
    max_sequence_length=16,
    dropout=0.0,
)
TASKS = [
    Task("nli", "classification", num_classes=3, dropout=0.0),
    Task("ner", "tagging", num_classes=5, dropout=0.0),
    Task("mlm", "masked_lm"),
]
B, T, P = 4, 8, 3
ATOL = 1e-5  # float32 model against float64 NumPy


def make_model(tasks=TASKS, seed=0, **backbone):
    keras.utils.set_random_seed(seed)
    return BertMultiTask(BertBackbone(**{**TINY, **backbone}), tasks)


def make_batch(seed=0, batch=B):
    """Inputs, targets and sample weights for TASKS; words of 1-3 pieces,
    [CLS] and [SEP] around them, the second row padded by 2."""
    rng = np.random.default_rng(seed)
    lengths = [T] * batch
    lengths[1] = T - 2
    word_ids = []
    for length in lengths:
        row, word = [None], 0
        while len(row) < length - 1:
            row += [word] * min(int(rng.integers(1, 4)), length - 1 - len(row))
            word += 1
        word_ids.append(row + [None] * (T - len(row)))
    padding = np.array([[1] * n + [0] * (T - n) for n in lengths], "int32")
    x = {
        "token_ids": (rng.integers(2, TINY["vocabulary_size"], (batch, T)) * padding).astype(
            "int32"
        ),
        "segment_ids": (np.arange(T)[None] >= T // 2).astype("int32").repeat(batch, 0),
        "padding_mask": padding,
        "mask_positions": np.stack([1 + rng.permutation(n - 2)[:P] for n in lengths]).astype(
            "int32"
        ),
    }
    y = {
        "nli": rng.integers(0, 3, batch).astype("int32"),
        "ner": rng.integers(0, 5, (batch, T)).astype("int32"),
        "mlm": rng.integers(0, TINY["vocabulary_size"], (batch, P)).astype("int32"),
    }
    mlm_weights = np.ones((batch, P), "float32")
    mlm_weights[0, -1] = 0.0  # a padded prediction
    weights = {
        "nli": (np.arange(batch) % 4 != 1).astype("float32"),  # row 1 has no nli label
        "ner": first_piece_mask(word_ids, T).astype("float32"),
        "mlm": mlm_weights,
    }
    return x, y, weights, word_ids


# NumPy references -----------------------------------------------------------


def np_gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def np_layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def np_cross_entropy(logits, targets, weights=None, over_weights=True):
    """mean over the scored elements of -log softmax(logits)[target]:
    sum(w * ce) / sum(w), targets of -100 and weights of 0 left out
    (over_weights=False: sum(w * ce) / number of elements, Keras's default
    reduction)."""
    logits = np.asarray(logits, "float64")
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    valid = targets != -100
    ce = -np.take_along_axis(log_probs, np.where(valid, targets, 0)[..., None], -1)[..., 0]
    w = np.ones(ce.shape) if weights is None else np.broadcast_to(weights, ce.shape)
    w = w * valid
    return float((w * ce).sum() / (w.sum() if over_weights else w.size))


def np_shift(start, end, transition_steps, start_step, curve, step):
    p = min(max((step - start_step) / transition_steps, 0.0), 1.0)
    if curve == "cosine":
        p = 0.5 * (1.0 - math.cos(math.pi * p))
    return {name: start[name] + (end[name] - start[name]) * p for name in start}


def np_weights(layer):
    return [np.asarray(ops.convert_to_numpy(w), "float64") for w in layer.weights]


def backbone_outputs(model, x):
    features = {key: x[key] for key in ("token_ids", "segment_ids", "padding_mask")}
    outputs = model.backbone.predict(features, batch_size=len(x["token_ids"]), verbose=0)
    return {key: np.asarray(value, "float64") for key, value in outputs.items()}


def to_int(variable):
    return int(ops.convert_to_numpy(variable))


# Heads ------------------------------------------------------------------------


def test_each_head_equals_numpy_on_the_backbone_outputs():
    tasks = [*TASKS, Task("nsp", "classification", num_classes=2, dropout=0.0)]
    model = make_model(tasks)
    x, _, _, _ = make_batch()
    outputs = model.predict(x, batch_size=B, verbose=0)
    assert sorted(outputs) == ["mlm", "ner", "nli", "nsp"]
    features = backbone_outputs(model, x)
    sequence, pooled = features["sequence_output"], features["pooled_output"]
    expected = {}
    for name in ("nli", "nsp"):
        kernel, bias = np_weights(model.heads[name])
        expected[name] = pooled @ kernel + bias  # (B, C)
    kernel, bias = np_weights(model.heads["ner"])
    expected["ner"] = sequence @ kernel + bias  # (B, T, C)
    head = model.heads["mlm"]
    table = np.asarray(
        ops.convert_to_numpy(model.backbone.get_layer("token_embedding").embeddings), "float64"
    )
    picked = np.take_along_axis(sequence, x["mask_positions"][..., None], 1)  # (B, P, D)
    dense_kernel, dense_bias = np_weights(head.dense)
    gamma, beta = np_weights(head.layer_norm)
    hidden = np_layer_norm(np_gelu(picked @ dense_kernel + dense_bias), gamma, beta, 1e-12)
    expected["mlm"] = hidden @ table.T + np.asarray(ops.convert_to_numpy(head.bias))
    shapes = {"nli": (B, 3), "nsp": (B, 2), "ner": (B, T, 5), "mlm": (B, P, 30)}
    for name, value in outputs.items():
        assert value.shape == shapes[name] and value.dtype == np.float32, name
        np.testing.assert_allclose(value, expected[name], atol=ATOL, rtol=ATOL, err_msg=name)


def test_masked_lm_head_is_tied_to_the_word_embeddings():
    model = make_model()
    x, _, _, _ = make_batch()
    table = model.backbone.get_layer("token_embedding").embeddings
    table.assign(np.zeros(tuple(table.shape), "float32"))
    bias = ops.convert_to_numpy(model.heads["mlm"].bias)
    logits = model.predict(x, batch_size=B, verbose=0)["mlm"]
    np.testing.assert_allclose(logits, np.broadcast_to(bias, logits.shape), atol=1e-6)


def test_any_backbone_with_the_same_outputs():
    keras.utils.set_random_seed(0)
    backbone = RobertaBackbone(**{**TINY, "max_sequence_length": 18})
    model = BertMultiTask(backbone, TASKS)
    x, _, _, _ = make_batch()
    x = {key: value for key, value in x.items() if key in model.input}
    outputs = model.predict(x, batch_size=B, verbose=0)
    assert outputs["mlm"].shape == (B, P, 30) and outputs["ner"].shape == (B, T, 5)


# Losses -----------------------------------------------------------------------


def test_task_losses_with_masks_equal_numpy():
    """Per-task losses (sample weights: rows without a label, first pieces
    only, padded predictions) and their weighted total, against NumPy."""
    model = make_model()
    x, y, weights, _ = make_batch()
    # Logits of order 1 (not the initial ~0.01), so each target counts.
    rng = np.random.default_rng(1)
    for name in ("nli", "ner"):
        kernel = model.heads[name].kernel
        kernel.assign(ops.convert_to_numpy(kernel) * 100.0)
    model.heads["mlm"].bias.assign(rng.normal(0.0, 2.0, (30,)).astype("float32"))
    weights_used = {"nli": 0.5, "ner": 2.0, "mlm": 1.0}
    model.compile(task_weights=weights_used)
    outputs = model.predict(x, batch_size=B, verbose=0)
    expected = {name: np_cross_entropy(outputs[name], y[name], weights[name]) for name in y}
    logs = model.evaluate(x, y, sample_weight=weights, batch_size=B, return_dict=True, verbose=0)
    for name in y:
        assert logs[f"{name}_loss"] == pytest.approx(expected[name], abs=ATOL), name
        assert logs[f"{name}_weight"] == pytest.approx(weights_used[name], abs=1e-7), name
    total = sum(weights_used[name] * expected[name] for name in y)
    assert logs["loss"] == pytest.approx(total, abs=ATOL)

    # Masked-out targets contribute nothing: change them to other classes
    # (or to HF's -100), and the losses stay; change a scored one, and not.
    changed = {name: value.copy() for name, value in y.items()}
    for name, classes in (("nli", 3), ("ner", 5), ("mlm", 30)):
        out = weights[name] == 0
        changed[name][out] = (changed[name][out] + 1) % classes
    ignored = dict(y, ner=np.where(weights["ner"] == 0, -100, y["ner"]).astype("int32"))
    for targets in (changed, ignored):
        again = model.evaluate(
            x, targets, sample_weight=weights, batch_size=B, return_dict=True, verbose=0
        )
        for name in y:
            assert again[f"{name}_loss"] == pytest.approx(logs[f"{name}_loss"], abs=1e-6), name
    scored = dict(y, ner=y["ner"].copy())
    row, position = np.argwhere(weights["ner"] == 1)[0]
    scored["ner"][row, position] = (scored["ner"][row, position] + 1) % 5
    again = model.evaluate(
        x, scored, sample_weight=weights, batch_size=B, return_dict=True, verbose=0
    )
    assert abs(again["ner_loss"] - logs["ner_loss"]) > 1e-3
    assert again["ner_loss"] == pytest.approx(
        np_cross_entropy(outputs["ner"], scored["ner"], weights["ner"]), abs=ATOL
    )
    # Scoring first pieces only is not scoring every real token.
    every_piece = x["padding_mask"].astype("float32")
    assert abs(np_cross_entropy(outputs["ner"], y["ner"], every_piece) - expected["ner"]) > 1e-2

    # Per-example (B,) weights spread over a token-level task's positions;
    # tasks a dict of NumPy weights leaves out count every element.
    rows = np.array([1, 0, 1, 1], "float32")
    logs = model.evaluate(
        x, y, sample_weight={"ner": rows}, batch_size=B, return_dict=True, verbose=0
    )
    assert logs["ner_loss"] == pytest.approx(
        np_cross_entropy(outputs["ner"], y["ner"], rows[:, None]), abs=ATOL
    )
    assert logs["nli_loss"] == pytest.approx(np_cross_entropy(outputs["nli"], y["nli"]), abs=ATOL)


def test_one_loss_for_every_task_and_loss_functions():
    """A Loss object for every task (Keras's default reduction: sum(w l) /
    element count), and a plain function, as compile takes them."""
    model = make_model()
    x, y, weights, _ = make_batch()

    def nli_loss(targets, logits):
        return keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)

    keras_default = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for loss in (keras_default, {"nli": nli_loss, "ner": keras_default, "mlm": keras_default}):
        model.compile(loss=loss, task_weights={"nli": 1.0, "ner": 1.0, "mlm": 1.0})
        logs = model.evaluate(
            x, y, sample_weight=weights, batch_size=B, return_dict=True, verbose=0
        )
        outputs = model.predict(x, batch_size=B, verbose=0)
        for name in y:
            expected = np_cross_entropy(outputs[name], y[name], weights[name], over_weights=False)
            assert logs[f"{name}_loss"] == pytest.approx(expected, abs=ATOL), name


def test_a_task_without_a_loss_needs_no_targets():
    model = make_model()
    x, y, weights, _ = make_batch()
    # Logits of order 1 (not the initial ~0.01), so each target counts.
    rng = np.random.default_rng(1)
    for name in ("nli", "ner"):
        kernel = model.heads[name].kernel
        kernel.assign(ops.convert_to_numpy(kernel) * 100.0)
    model.heads["mlm"].bias.assign(rng.normal(0.0, 2.0, (30,)).astype("float32"))
    model.compile(
        optimizer=keras.optimizers.SGD(0.0), loss={"nli": "auto", "mlm": "auto"}, task_weights=None
    )
    del y["ner"], weights["ner"]
    logs = model.fit(x, y, sample_weight=weights, batch_size=B, verbose=0).history
    assert "ner_loss" not in logs and "ner_weight" not in logs
    outputs = model.predict(x, batch_size=B, verbose=0)
    total = np_cross_entropy(outputs["nli"], y["nli"], weights["nli"]) + np_cross_entropy(
        outputs["mlm"], y["mlm"], weights["mlm"]
    )
    assert logs["loss"][0] == pytest.approx(total, abs=ATOL)


# The schedule -------------------------------------------------------------------

START = {"mlm": 1.0, "nli": 0.0, "ner": 0.5}
END = {"mlm": 0.0, "nli": 1.0, "ner": 0.5}


class Recorder(keras.callbacks.Callback):
    """Each step's logs (Keras's running means over the epoch)."""

    def __init__(self):
        super().__init__()
        self.batches = []

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.append([])

    def on_train_batch_end(self, batch, logs=None):
        self.batches[-1].append({key: float(value) for key, value in logs.items()})


@pytest.mark.parametrize(
    "mode, curve",
    [("compile", "linear"), ("compile", "cosine"), ("callback", "cosine"), ("epoch", "linear")],
)
def test_each_step_uses_the_scheduled_weights(mode, curve):
    """Learning rate 0 and the same batch at every step: each step's task
    losses are constant, its weights must be the schedule's (per step, or
    per epoch for unit="epoch") and its total loss sum_t w_t L_t."""
    model = make_model()
    x, y, weights, _ = make_batch()
    # Logits of order 1 (not the initial ~0.01), so each target counts.
    rng = np.random.default_rng(1)
    for name in ("nli", "ner"):
        kernel = model.heads[name].kernel
        kernel.assign(ops.convert_to_numpy(kernel) * 100.0)
    model.heads["mlm"].bias.assign(rng.normal(0.0, 2.0, (30,)).astype("float32"))
    schedule = TaskWeightShift(START, END, transition_steps=4, start_step=1, curve=curve)
    callbacks = [Recorder()]
    if mode == "compile":
        model.compile(optimizer=keras.optimizers.SGD(0.0), task_weights=schedule)
    else:
        model.compile(optimizer=keras.optimizers.SGD(0.0), task_weights=None)
        callbacks.insert(
            0, TaskWeightScheduler(schedule, unit="epoch" if mode == "epoch" else "step")
        )
    repeat = 3  # steps per epoch, all on the same batch
    data = keras.tree.map_structure(lambda v: np.concatenate([v] * repeat), (x, y, weights))
    epochs = 3
    model.fit(
        *data[:2],
        sample_weight=data[2],
        batch_size=B,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )
    outputs = model.predict(x, batch_size=B, verbose=0)
    losses = {name: np_cross_entropy(outputs[name], y[name], weights[name]) for name in y}
    step = 0
    for epoch, batches in enumerate(callbacks[-1].batches):
        assert len(batches) == repeat
        previous_mean = 0.0
        for index, logs in enumerate(batches):
            clock = epoch if mode == "epoch" else step
            expected = np_shift(START, END, 4, 1, curve, clock)
            for name in y:
                assert logs[f"{name}_weight"] == pytest.approx(expected[name], abs=1e-6), (
                    step,
                    name,
                )
                assert logs[f"{name}_loss"] == pytest.approx(losses[name], abs=ATOL)
            # This step's total from Keras's running mean over the epoch.
            total = (index + 1) * logs["loss"] - index * previous_mean
            previous_mean = logs["loss"]
            expected_total = sum(expected[name] * losses[name] for name in y)
            assert total == pytest.approx(expected_total, abs=5 * ATOL), step
            step += 1
    assert to_int(model.task_step) == epochs * repeat
    last = np_shift(START, END, 4, 1, curve, epochs - 1 if mode == "epoch" else step - 1)
    for name, value in model.current_task_weights().items():
        assert value == pytest.approx(last[name], abs=1e-6)


def test_task_weight_shift_values_and_config():
    for curve in ("linear", "cosine"):
        schedule = TaskWeightShift(START, END, transition_steps=10, start_step=3, curve=curve)
        for step in (0, 3, 4, 8, 13, 20):
            got = schedule(ops.convert_to_tensor(float(step)))
            want = np_shift(START, END, 10, 3, curve, step)
            for name in START:
                assert float(ops.convert_to_numpy(got[name])) == pytest.approx(want[name], abs=1e-6)
        restored = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(schedule)
        )
        assert type(restored) is TaskWeightShift
        assert restored.get_config() == schedule.get_config()


# Training ---------------------------------------------------------------------


def toy_data(count, seed):
    """nli: is token 5 among the first 4 tokens (2 classes); ner: the first
    piece of each word tagged token_id % 3; mlm: the masked token of a
    run t, t+1, t+2, ... (recoverable from its neighbours)."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(4, 20, count)
    ids = (starts[:, None] + np.arange(T)[None]) % 26 + 4
    labels = rng.integers(0, 2, count)
    ids[:, :4] = np.where(ids[:, :4] == 5, 6, ids[:, :4])
    ids[np.arange(count), rng.integers(0, 4, count)] = np.where(labels == 1, 5, 7)
    positions = np.stack([1 + rng.permutation(T - 2)[:2] for _ in range(count)])
    originals = np.take_along_axis(ids, positions, 1)
    masked = ids.copy()
    np.put_along_axis(masked, positions, 1, 1)  # token 1 stands for [MASK]
    word_ids = [[w // 2 for w in range(T)] for _ in range(count)]
    x = {
        "token_ids": masked.astype("int32"),
        "segment_ids": np.zeros((count, T), "int32"),
        "padding_mask": np.ones((count, T), "int32"),
        "mask_positions": positions.astype("int32"),
    }
    y = {"nli": labels.astype("int32"), "ner": (ids % 3).astype("int32"), "mlm": originals}
    y["mlm"] = y["mlm"].astype("int32")
    return x, y, {"ner": first_piece_mask(word_ids).astype("float32")}


@pytest.mark.slow
def test_fit_reduces_every_task_loss_on_a_toy_task():
    x, y, weights = toy_data(256, seed=0)
    model = make_model(
        [
            Task("nli", "classification", num_classes=2, dropout=0.0),
            Task("ner", "tagging", num_classes=3, dropout=0.0),
            Task("mlm", "masked_lm"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        task_weights=TaskWeightShift(
            {"mlm": 1.0, "nli": 0.2, "ner": 1.0}, {"mlm": 0.5, "nli": 1.0, "ner": 1.0}, 64
        ),
    )
    before = model.evaluate(x, y, sample_weight=weights, return_dict=True, verbose=0)
    model.fit(x, y, sample_weight=weights, batch_size=32, epochs=16, verbose=0)
    after = model.evaluate(x, y, sample_weight=weights, return_dict=True, verbose=0)
    assert to_int(model.task_step) == 16 * 8
    for name in ("nli", "ner", "mlm"):
        assert after[f"{name}_loss"] < 0.7 * before[f"{name}_loss"], (name, before, after)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    """The backbone's policy reaches the heads and the model (so compile
    adds loss scaling under float16); logits stay float32; the task losses
    are within 2% (float16) or 5% (bfloat16) of float32's with the same
    weights; scheduled training steps stay finite."""
    x, y, weights, _ = make_batch()
    reference, model = make_model(), make_model(dtype=policy)
    model.set_weights(reference.get_weights())
    for each in (reference, model):
        each.compile(
            optimizer=keras.optimizers.Adam(1e-3), task_weights=TaskWeightShift(START, END, 4)
        )
    half = policy.split("_")[1]
    assert model.dtype_policy.name == policy and model.heads["mlm"].compute_dtype == half
    scaled = isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == (policy == "mixed_float16")
    outputs = model.predict(x, batch_size=B, verbose=0)
    assert all(value.dtype == np.float32 for value in outputs.values())
    expected = reference.evaluate(
        x, y, sample_weight=weights, batch_size=B, return_dict=True, verbose=0
    )
    actual = model.evaluate(x, y, sample_weight=weights, batch_size=B, return_dict=True, verbose=0)
    for name in y:
        assert actual[f"{name}_loss"] == pytest.approx(
            expected[f"{name}_loss"], rel={"float16": 0.02, "bfloat16": 0.05}[half]
        ), name
    history = model.fit(x, y, sample_weight=weights, batch_size=2, epochs=2, verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    # Steps 1 and 3 end the epochs: mlm weight 1 - step / 4.
    assert history["mlm_weight"] == pytest.approx([0.75, 0.25])


@pytest.mark.slow
def test_keras_file_round_trip(tmp_path):
    model = make_model()
    x, y, weights, _ = make_batch()
    # Logits of order 1 (not the initial ~0.01), so each target counts.
    rng = np.random.default_rng(1)
    for name in ("nli", "ner"):
        kernel = model.heads[name].kernel
        kernel.assign(ops.convert_to_numpy(kernel) * 100.0)
    model.heads["mlm"].bias.assign(rng.normal(0.0, 2.0, (30,)).astype("float32"))
    schedule = TaskWeightShift(START, END, transition_steps=4, curve="cosine")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), task_weights=schedule, metrics={"nli": ["accuracy"]}
    )
    model.fit(x, y, sample_weight=weights, batch_size=2, verbose=0)  # 2 steps
    expected = model.predict(x, batch_size=B, verbose=0)
    path = str(tmp_path / "multitask.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is BertMultiTask
    assert restored.tasks == model.tasks
    actual = restored.predict(x, batch_size=B, verbose=0)
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], atol=1e-6, err_msg=name)
    assert to_int(restored.task_step) == 2
    assert (
        restored.get_compile_config()["task_weights"] == model.get_compile_config()["task_weights"]
    )
    # Training goes on along the same schedule: the next step is step 2.
    recorder = Recorder()
    restored.fit(x, y, sample_weight=weights, batch_size=B, verbose=0, callbacks=[recorder])
    want = np_shift(START, END, 4, 0, "cosine", 2)
    for name in want:
        assert recorder.batches[0][0][f"{name}_weight"] == pytest.approx(want[name], abs=1e-6)
    assert "nli_accuracy" in recorder.batches[0][0]


@keras.saving.register_keras_serializable(package="kerastack_tests")
class HalfEvery(TaskWeightSchedule):
    """A user's own schedule: the first task's weight halves every `period` steps."""

    def __init__(self, first, second, period):
        self.first, self.second, self.period = first, second, period

    def __call__(self, step):
        return {self.first: 0.5 ** ops.floor(step / self.period), self.second: 1.0}

    def get_config(self):
        return {"first": self.first, "second": self.second, "period": self.period}


def test_a_user_schedule_trains_and_saves(tmp_path):
    tasks = [Task("a", "classification", num_classes=2), Task("b", "tagging", num_classes=2)]
    model = make_model(tasks)
    x, _, _, _ = make_batch()
    del x["mask_positions"]
    y = {"a": np.zeros(B, "int32"), "b": np.ones((B, T), "int32")}
    model.compile(optimizer=keras.optimizers.SGD(0.0), task_weights=HalfEvery("a", "b", 2))
    recorder = Recorder()
    model.fit(x, y, batch_size=1, epochs=1, verbose=0, callbacks=[recorder])
    assert [logs["a_weight"] for logs in recorder.batches[0]] == [1.0, 1.0, 0.5, 0.5]
    model.save(str(tmp_path / "user.keras"))
    restored = keras.saving.load_model(str(tmp_path / "user.keras"))
    assert isinstance(restored._task_weight_function, HalfEvery)


# first_piece_mask ----------------------------------------------------------------


def reference_first_pieces(row):
    out = []
    for position, word in enumerate(row):
        previous = row[position - 1] if position else None
        out.append(int(word is not None and word != previous))
    return out


def test_first_piece_mask():
    word_ids = [
        [None, 0, 0, 1, 2, 2, 2, None],  # [CLS] w0 w0 w1 w2 w2 w2 [SEP]
        [None, 0, 1, 1, None, 0, 0, None],  # a pair: word ids restart after [SEP]
        [None, 0, None],
    ]
    mask = first_piece_mask(word_ids, length=9)
    assert mask.shape == (3, 9) and mask.dtype == np.int32
    for row, ids in zip(mask, word_ids, strict=True):
        assert row.tolist() == reference_first_pieces(ids) + [0] * (9 - len(ids))
    as_array = np.array(
        [[-1 if w is None else w for w in ids + [None] * (8 - len(ids))] for ids in word_ids]
    )
    np.testing.assert_array_equal(first_piece_mask(as_array), mask[:, :8])
    with pytest.raises(ValueError, match="more than length=4"):
        first_piece_mask(word_ids, length=4)
    with pytest.raises(ValueError, match="a row per sequence"):
        first_piece_mask([None, 0, 0, None])


# Errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments, message",
    [
        (("x", "regression"), "Unknown task kind 'regression' for task 'x'"),
        (("x", "tagging"), "needs num_classes"),
        (("x", "classification", 0), "num_classes >= 1"),
        (("x", "masked_lm", 30), "masked_lm task: its classes are the vocabulary"),
        (("my task", "tagging", 3), "letters, digits"),
        (("x", "tagging", 3, 1.5), "0 <= dropout < 1"),
    ],
)
def test_bad_task_specs(arguments, message):
    with pytest.raises(ValueError, match=message):
        Task(*arguments)


def test_bad_task_lists():
    backbone = BertBackbone(**TINY)
    with pytest.raises(ValueError, match=r"distinct; \['nli'\] appear more than once"):
        BertMultiTask(backbone, [*TASKS, Task("nli", "tagging", num_classes=2)])
    with pytest.raises(ValueError, match="At most one masked_lm"):
        BertMultiTask(backbone, [Task("a", "masked_lm"), Task("b", "masked_lm")])
    with pytest.raises(ValueError, match="at least one task"):
        BertMultiTask(backbone, [])
    with pytest.raises(TypeError, match="must be a Task"):
        BertMultiTask(backbone, ["nli"])
    inputs = dict(backbone.input)
    sequence_only = keras.Model(inputs, {"sequence_output": backbone(inputs)["sequence_output"]})
    with pytest.raises(ValueError, match=r"need the backbone outputs \['pooled_output'"):
        BertMultiTask(sequence_only, [TASKS[0]])


def test_bad_compile_arguments_change_nothing():
    model = make_model()
    schedule = TaskWeightShift(START, END, 4)
    model.compile(task_weights=schedule)
    bad = [
        (dict(loss_weights={"nli": 1.0}), "task_weights= .* instead of loss_weights"),
        (dict(loss={"pos": "auto"}), r"loss names unknown tasks \['pos'\]"),
        (dict(task_weights={"nli": 1.0, "pos": 1.0}), r"unknown tasks \['pos'\]"),
        (dict(task_weights={"nli": 1.0}), r"no weight for the trained tasks \['ner', 'mlm'\]"),
        (dict(task_weights={"nli": -1.0, "ner": 1, "mlm": 1}), "finite and >= 0"),
        (dict(task_weights="linear"), "task_weights must be None, a dict"),
        (dict(loss=None), "No task has a loss"),
    ]
    for arguments, message in bad:
        with pytest.raises(ValueError, match=message):
            model.compile(**arguments)
        assert model._task_weight_function is schedule  # the first compile stands


def test_bad_targets_and_masks_are_clear_errors_and_change_nothing():
    model = make_model()
    x, y, weights, _ = make_batch()
    # Logits of order 1 (not the initial ~0.01), so each target counts.
    rng = np.random.default_rng(1)
    for name in ("nli", "ner"):
        kernel = model.heads[name].kernel
        kernel.assign(ops.convert_to_numpy(kernel) * 100.0)
    model.heads["mlm"].bias.assign(rng.normal(0.0, 2.0, (30,)).astype("float32"))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2), task_weights={"nli": 1, "ner": 1, "mlm": 1}
    )
    before = [np.array(w) for w in model.get_weights()]
    ner_short = {**weights, "ner": weights["ner"][:, :-1]}
    cases = [
        ({**y, "pos": y["nli"]}, weights, r"The targets names unknown tasks \['pos'\]"),
        ({"nli": y["nli"], "mlm": y["mlm"]}, None, r"No targets for the tasks \['ner'\]"),
        (y, ner_short, r"sample_weight for task 'ner' has shape \(4, 7\).*predicts \(4, 8\)"),
        (y, {**weights, "pos": weights["nli"]}, r"sample_weight names unknown tasks \['pos'\]"),
        ({**y, "ner": y["ner"][:, :5]}, None, r"targets for task 'ner' have shape \(4, 5\)"),
        (y["nli"], None, "targets must be a dict keyed by task name"),
    ]
    for targets, sample_weight, message in cases:
        with pytest.raises(ValueError, match=message):
            model.fit(x, targets, sample_weight=sample_weight, batch_size=B, verbose=0)

    # Data Keras reads batch by batch: the first batch is checked up front.
    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 1

        def __getitem__(self, index):
            return x, {"nli": y["nli"], "mlm": y["mlm"]}

    def generator():
        yield x, y, ner_short

    with pytest.raises(ValueError, match=r"No targets for the tasks \['ner'\]"):
        model.fit(Batches(), verbose=0)
    with pytest.raises(ValueError, match=r"sample_weight for task 'ner' has shape \(4, 7\)"):
        model.fit(generator(), verbose=0)
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    assert model.predict(x, batch_size=B, verbose=0)["nli"].shape == (B, 3)


def test_callback_needs_a_model_compiled_without_task_weights():
    model = make_model()
    x, y, weights, _ = make_batch()
    # Logits of order 1 (not the initial ~0.01), so each target counts.
    rng = np.random.default_rng(1)
    for name in ("nli", "ner"):
        kernel = model.heads[name].kernel
        kernel.assign(ops.convert_to_numpy(kernel) * 100.0)
    model.heads["mlm"].bias.assign(rng.normal(0.0, 2.0, (30,)).astype("float32"))
    model.compile(task_weights=TaskWeightShift(START, END, 4))
    with pytest.raises(ValueError, match="needs compile\\(task_weights=None\\)"):
        model.fit(
            x,
            y,
            sample_weight=weights,
            verbose=0,
            callbacks=[TaskWeightScheduler(TaskWeightShift(START, END, 4))],
        )
    with pytest.raises(ValueError, match="unit must be 'step' or 'epoch'"):
        TaskWeightScheduler(TaskWeightShift(START, END, 4), unit="batch")


@pytest.mark.parametrize(
    "arguments, message",
    [
        (({"a": 1.0}, {"b": 0.0}, 4), "must name the same tasks"),
        (({"a": -1.0}, {"a": 0.0}, 4), r"start\['a'\] must be finite and >= 0"),
        (({"a": 1.0}, {"a": 0.0}, 0), "transition_steps must be > 0"),
        (({"a": 1.0}, {"a": 0.0}, 4, 0, "exponential"), "curve must be 'linear' or 'cosine'"),
    ],
)
def test_bad_schedules(arguments, message):
    with pytest.raises(ValueError, match=message):
        TaskWeightShift(*arguments)
