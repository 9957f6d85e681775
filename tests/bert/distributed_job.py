"""Train a small BERT a few steps on one device and on several, and report
how far apart the losses and weights end up (JSON on stdout).

Run by tests/bert/test_distribution.py in a process of its own, because the
device count is fixed when the backend starts:

    XLA_FLAGS=--xla_force_host_platform_device_count=8 \
        python -m tests.bert.distributed_job jax
    python -m tests.bert.distributed_job tensorflow  # 4 logical CPUs of one physical one

Each run starts from the same weights and sees the same batches (dropout
off, so the only difference is the order of floating-point sums).
"""

import json
import os
import sys

import numpy as np

CONFIG = dict(
    vocabulary_size=96,
    num_layers=2,
    num_heads=4,
    hidden_dim=32,
    intermediate_dim=64,
    max_sequence_length=32,
    dropout=0.0,
)
BATCH, LENGTH, PREDICTIONS, STEPS = 16, 24, 4, 4


def batches(seed=0):
    """`STEPS` pretraining batches `(inputs, labels, weights)` with padding."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(STEPS):
        lengths = rng.integers(8, LENGTH + 1, size=BATCH)
        padding_mask = (np.arange(LENGTH)[None, :] < lengths[:, None]).astype("int32")
        token_ids = rng.integers(5, CONFIG["vocabulary_size"], size=(BATCH, LENGTH)) * padding_mask
        segment_ids = (np.arange(LENGTH)[None, :] >= lengths[:, None] // 2) * padding_mask
        positions = np.stack([rng.choice(n, PREDICTIONS, replace=False) for n in lengths])
        inputs = {
            "token_ids": token_ids.astype("int32"),
            "segment_ids": segment_ids.astype("int32"),
            "padding_mask": padding_mask,
            "mask_positions": positions.astype("int32"),
        }
        labels = {
            "mlm_logits": rng.integers(5, CONFIG["vocabulary_size"], size=(BATCH, PREDICTIONS)),
            "nsp_logits": rng.integers(0, 2, size=BATCH),
        }
        weights = {
            "mlm_logits": (rng.random((BATCH, PREDICTIONS)) < 0.8).astype("float32"),
            "nsp_logits": np.ones(BATCH, "float32"),
        }
        out.append((inputs, labels, weights))
    return out


def build(initial_weights=None):
    """A compiled `BertPretrainer`, made in the current distribution scope."""
    from kerastack.bert import BertBackbone, BertPretrainer
    from kerastack.core import keras

    model = BertPretrainer(BertBackbone(**CONFIG))
    if initial_weights is not None:
        model.set_weights(initial_weights)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-2, weight_decay=0.01),
        loss={"mlm_logits": loss, "nsp_logits": loss},
    )
    return model


def train(model, data):
    """Per-step losses (each batch's own, not a running mean)."""
    return [
        float(model.train_on_batch(x, y, sample_weight=w, return_dict=True)["loss"])
        for x, y, w in data
    ]


def compare(reference, losses, model):
    """Largest absolute and relative differences of losses and weights."""
    loss_diff = np.abs(np.asarray(losses) - np.asarray(reference["losses"]))
    weight_diffs = [
        float(np.max(np.abs(np.asarray(a) - b)))
        for a, b in zip(model.get_weights(), reference["weights"], strict=True)
    ]
    moved = [
        float(np.max(np.abs(a - b)))
        for a, b in zip(reference["weights"], reference["initial"], strict=True)
    ]
    return {
        "losses": losses,
        "max_loss_diff": float(loss_diff.max()),
        "max_weight_diff": max(weight_diffs),
        # how far training moved the weights, to judge the differences by
        "min_weight_change": min(moved),
    }


def single_device(data):
    from kerastack.core import keras

    keras.utils.set_random_seed(0)
    model = build()
    initial = model.get_weights()
    losses = train(model, data)
    return {"losses": losses, "weights": model.get_weights(), "initial": initial}


def jax_job():
    """DataParallel on 8 devices; ModelParallel on a 2 x 4 mesh, with and
    without the weights' other axis split over the batch axis."""
    from kerastack.bert import get_layout_map
    from kerastack.core import keras

    data = batches()
    reference = single_device(data)
    devices = keras.distribution.list_devices("cpu")
    report = {"devices": len(devices), "reference_losses": reference["losses"]}

    keras.utils.clear_session()
    with keras.distribution.DataParallel(devices=devices).scope():
        model = build(reference["initial"])
        report["data_parallel"] = compare(reference, train(model, data), model)
        report["data_parallel"]["layouts"] = layouts(model)

    mesh = keras.distribution.DeviceMesh((2, 4), ["batch", "model"], devices)
    for name, data_axis in (("model_parallel", None), ("fully_sharded", "batch")):
        keras.utils.clear_session()
        layout_map = get_layout_map(mesh, model_axis="model", data_axis=data_axis)
        distribution = keras.distribution.ModelParallel(
            layout_map=layout_map, batch_dim_name="batch"
        )
        with distribution.scope():
            model = build(reference["initial"])
            report[name] = compare(reference, train(model, data), model)
            report[name]["layouts"] = layouts(model)
            report[name]["expected"] = {
                v.path: list(layout_map[v.path].axes) if layout_map[v.path] else None
                for v in model.weights
            }
    return report


def layouts(model):
    """Each weight's (and optimizer slot's) sharding: the partition spec and
    the shape of the piece device 0 holds."""
    out = {}
    variables = list(model.weights) + [v for v in model.optimizer.variables if len(v.shape) > 0]
    for variable in variables:
        array = variable.value
        spec = [None if axis is None else axis for axis in array.sharding.spec]
        spec += [None] * (len(array.shape) - len(spec))
        shard = array.addressable_shards[0].data.shape
        out[variable.path] = {
            "shape": list(array.shape),
            "spec": spec,
            "shard": list(shard),
            "devices": len(array.sharding.device_set),
        }
    return out


def tensorflow_job():
    """MirroredStrategy over 4 logical CPU devices."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 4)
    from kerastack.core import keras

    data = batches()
    reference = single_device(data)
    devices = [device.name for device in tf.config.list_logical_devices("CPU")]
    report = {"devices": len(devices), "reference_losses": reference["losses"]}
    keras.utils.clear_session()
    strategy = tf.distribute.MirroredStrategy(devices)
    with strategy.scope():
        model = build(reference["initial"])
    report["mirrored"] = compare(reference, train(model, data), model)
    report["mirrored"]["replicas"] = strategy.num_replicas_in_sync
    report["mirrored"]["mirrored_weights"] = sum(
        isinstance(v.value, tf.distribute.DistributedValues) for v in model.weights
    )
    report["mirrored"]["weights"] = len(model.weights)
    return report


def main():
    backend = sys.argv[1]
    if os.environ.get("KERAS_BACKEND") != backend:
        raise SystemExit(f"KERAS_BACKEND must be {backend!r} for this job.")
    report = jax_job() if backend == "jax" else tensorflow_job()
    print("REPORT " + json.dumps(report))


if __name__ == "__main__":
    main()
