"""Train a small BERT a few steps on one device and on several, and report
how far apart the losses and weights end up (JSON on stdout).

Run by tests/bert/test_distribution.py in a process of its own, because the
device count is fixed when the backend starts:

    XLA_FLAGS=--xla_force_host_platform_device_count=8 \
        python -m tests.bert.distributed_job jax
    python -m tests.bert.distributed_job tensorflow  # 4 logical CPUs of one physical one
    python -m tests.bert.distributed_job jax-process ID PORT CORPUS  # 2 processes x 4 devices

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


def build(initial_weights=None, config=CONFIG):
    """A compiled `BertPretrainer`, made in the current distribution scope."""
    from kerastack.bert import BertBackbone, BertPretrainer
    from kerastack.core import keras

    model = BertPretrainer(BertBackbone(**config))
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


# -- several processes: jax.distributed over localhost, each process with 4
# CPU devices, reading its own files of a corpus -------------------------------

PROCESSES, LOCAL_BATCH = 2, 8


def file_data(folder, **shard):
    """The pretraining batches of `folder`'s corpus (tests/bert/
    test_pretraining_files.py) for one process."""
    from kerastack.bert import BertPretrainingFileDataset, BertTokenizer
    from tests.bert.test_pretraining_files import TOKENS

    return BertPretrainingFileDataset(
        os.path.join(folder, "part-*.txt"), BertTokenizer(TOKENS), batch_size=LOCAL_BATCH,
        sequence_length=LENGTH, max_predictions=PREDICTIONS, seed=5, example_bytes=16,
        num_batches=STEPS, **shard,
    )  # fmt: skip


def file_model_config():
    from tests.bert.test_pretraining_files import TOKENS

    return {**CONFIG, "vocabulary_size": len(TOKENS)}


def initial_weights(model):
    """The same weights in every process, from NumPy."""
    rng = np.random.default_rng(0)
    return [
        (1.0 if v.path.endswith("gamma") else 0.0) + rng.normal(0, 0.05, v.shape).astype("float32")
        for v in model.weights
    ]


def build_files_model():
    model = build(config=file_model_config())
    initial = initial_weights(model)
    model.set_weights(initial)
    return model, initial


def files_reference(folder):
    """One device, the global batches (process 0's rows, then process 1's):
    step by step with `train_on_batch`, and by `fit` (for the runs that
    train by `fit`; Keras's `fit` reads a batch before training and then
    ends an epoch, so its first epoch is the datasets' second)."""
    from kerastack.core import keras

    shards = [file_data(folder, process_index=p, process_count=PROCESSES) for p in range(PROCESSES)]

    class GlobalBatches(keras.utils.PyDataset):
        def __len__(self):
            return STEPS

        def __getitem__(self, index):
            parts = [shard[index] for shard in shards]
            return tuple(
                {key: np.concatenate([part[i][key] for part in parts]) for key in parts[0][i]}
                for i in range(3)
            )

        def on_epoch_end(self):
            for shard in shards:
                shard.on_epoch_end()

    data = GlobalBatches()
    model, initial = build_files_model()
    losses = [
        float(model.train_on_batch(x, y, sample_weight=w, return_dict=True)["loss"])
        for x, y, w in (data[step] for step in range(STEPS))
    ]
    for shard in shards:  # back to the first epoch
        shard.epoch = 0
        shard._order = shard._epoch_order()
    fitted, _ = build_files_model()
    history = fitted.fit(data, epochs=1, shuffle=False, verbose=0)
    return {
        "losses": losses,
        "weights": model.get_weights(),
        "initial": initial,
        "fit_losses": history.history["loss"],
        "fit_weights": fitted.get_weights(),
    }


def jax_process_job(process_id, port, folder):
    """Process `process_id` of 2: DataParallel over the 8 devices of both,
    then ModelParallel on a 2 x 4 mesh (one replica a process, the model
    axis within it), each process feeding its local batch from its own
    files (the shard is taken from the Keras distribution): step by step
    with `train_on_batch`, and by `fit`."""
    import jax
    from jax.experimental import multihost_utils

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    from kerastack.bert import get_layout_map
    from kerastack.core import keras

    keras.distribution.initialize(f"localhost:{port}", PROCESSES, process_id)
    devices = keras.distribution.list_devices("cpu")
    mesh = keras.distribution.DeviceMesh((2, 4), ["batch", "model"], devices)
    distributions = {
        "data_parallel": keras.distribution.DataParallel(devices=devices),
        # each process's dataset is its shard already: no auto-sharding
        "model_parallel": keras.distribution.ModelParallel(
            layout_map=get_layout_map(mesh), batch_dim_name="batch", auto_shard_dataset=False
        ),
    }
    report = {"process": process_id, "processes": jax.process_count(), "devices": len(devices)}
    for name, distribution in distributions.items():
        keras.utils.clear_session()
        with distribution.scope():
            model, _ = build_files_model()
            if name == "data_parallel":
                data = file_data(folder)  # this process's shard, from the distribution
                losses = [
                    float(model.train_on_batch(x, y, sample_weight=w, return_dict=True)["loss"])
                    for x, y, w in (data[step] for step in range(STEPS))
                ]
            else:  # as the README's pretraining guide (one loader: see files_reference)
                data = file_data(folder)
                history = model.fit(data, epochs=1, shuffle=False, verbose=0)
                losses = history.history["loss"]  # the mean of the steps' losses
            weights = [
                np.asarray(multihost_utils.process_allgather(v.value, tiled=True))
                for v in model.weights
            ]
        report[name] = {
            "losses": losses,
            "files": [os.path.basename(path) for path in data.files],
            "shard": [data.process_index, data.process_count],
            "weights": [w.tolist() for w in weights],
        }
    return report


def main():
    backend = sys.argv[1]
    if os.environ.get("KERAS_BACKEND") != backend.split("-")[0]:
        raise SystemExit(f"KERAS_BACKEND must be {backend.split('-')[0]!r} for this job.")
    if backend == "jax-process":
        report = jax_process_job(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        report = jax_job() if backend == "jax" else tensorflow_job()
    print("REPORT " + json.dumps(report))


if __name__ == "__main__":
    main()
