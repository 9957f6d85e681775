"""Training across devices with Keras's own engines: `keras.distribution`
(JAX: DataParallel, ModelParallel with kerastack's layout map) and
`tf.distribute.MirroredStrategy` (TensorFlow). Each multi-device run happens
in a process of its own (tests/bert/distributed_job.py): the device count is
fixed when the backend starts."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from kerastack.bert import BertBackbone, BertPretrainer, get_layout_map
from kerastack.core import keras
from kerastack.transformer import Seq2SeqTransformer
from kerastack.transformer import get_layout_map as transformer_layout_map
from tests.bert import distributed_job
from tests.bert.test_pretraining_files import write_corpus

pytestmark = pytest.mark.keras3(
    "layout maps are keras.distribution's, and the mirrored-strategy job is written "
    "against Keras 3's API"
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BACKEND = keras.config.backend()

# The same batches from the same weights, dropout off: what differs is the
# order of floating-point sums (measured: losses within 5e-7, weights within
# 5e-6 after 4 AdamW steps of learning rate 1e-2, which move them ~4e-2).
LOSS_ATOL, WEIGHT_ATOL = 1e-5, 5e-5


def mesh(shape=(2, 4), names=("batch", "model")):
    devices = [f"cpu:{i}" for i in range(int(np.prod(shape)))]
    return keras.distribution.DeviceMesh(shape, list(names), devices)


def small_pretrainer():
    backbone = BertBackbone(
        vocabulary_size=30, num_layers=1, num_heads=4, hidden_dim=8, intermediate_dim=16,
        max_sequence_length=16,
    )  # fmt: skip
    return BertPretrainer(backbone)


@pytest.mark.parametrize("data_axis", [None, "batch"])
def test_bert_layout_map_names_every_split_weight(data_axis):
    model, data = "model", data_axis
    expected = {  # by the last two parts of a weight's path
        "token_embedding/embeddings": (None, model),
        "position_embedding/embeddings": (None, model),
        "query/kernel": (data, model, None),
        "key/kernel": (data, model, None),
        "value/kernel": (data, model, None),
        "query/bias": (model, None),
        "key/bias": (model, None),
        "value/bias": (model, None),
        "attention_output/kernel": (model, None, data),
        "intermediate_dense/kernel": (data, model),
        "intermediate_dense/bias": (model,),
        "output_dense/kernel": (model, data),
    }
    layout_map = get_layout_map(mesh(), data_axis=data_axis)
    pretrainer = small_pretrainer()
    split = 0
    for variable in pretrainer.weights:
        layout = layout_map[variable.path]
        leaf = "/".join(variable.path.split("/")[-2:])
        if leaf in expected:
            assert tuple(layout.axes) == expected[leaf], variable.path
            assert len(layout.axes) == len(variable.shape), variable.path
            split += 1
        else:  # norms, output biases, segment table, pooler, heads: replicated
            assert layout is None, variable.path
    assert split == 2 + 10  # the two tables, ten weights of the one block
    assert BertBackbone.get_layout_map(mesh()).keys() == get_layout_map(mesh()).keys()


def test_transformer_layout_map_covers_encoder_decoder_and_keras_attention():
    layout_map = transformer_layout_map(mesh())
    model = Seq2SeqTransformer(
        encoder_vocabulary_size=20, hidden_dim=8, num_heads=4, intermediate_dim=16,
        num_encoder_layers=1, num_decoder_layers=1, max_sequence_length=8,
    )  # fmt: skip
    model(
        {
            "encoder_token_ids": np.ones((1, 4), "int32"),
            "decoder_token_ids": np.ones((1, 4), "int32"),
        }
    )
    split = {v.path: layout_map[v.path] for v in model.weights if layout_map[v.path] is not None}
    kinds = {path.split("/")[-3] + "/" + path.split("/")[-2] for path in split}
    for kind in ("self_attention/query", "cross_attention/value", "feed_forward/output_dense"):
        assert any(k.endswith(kind) for k in kinds), (kind, sorted(kinds))
    keras_attention = keras.layers.MultiHeadAttention(num_heads=4, key_dim=2, name="attention")
    keras_attention(np.ones((1, 3, 8), "float32"), np.ones((1, 3, 8), "float32"))
    for variable in keras_attention.weights:
        layout = layout_map[variable.path]
        if variable.path.endswith("attention_output/bias"):
            assert layout is None
        else:
            assert layout is not None and len(layout.axes) == len(variable.shape), variable.path


def test_layout_map_refuses_unknown_or_shared_axes():
    with pytest.raises(
        ValueError, match=r"model_axis='tensor' is not an axis.*\('batch', 'model'\)"
    ):
        get_layout_map(mesh(), model_axis="tensor")
    with pytest.raises(ValueError, match=r"data_axis='data' is not an axis"):
        get_layout_map(mesh(), data_axis="data")
    with pytest.raises(ValueError, match="must be different mesh axes"):
        get_layout_map(mesh(), data_axis="model")


def run_job(backend, **env):
    result = subprocess.run(
        [sys.executable, "-m", "tests.bert.distributed_job", backend],
        cwd=ROOT,
        env={**os.environ, "KERAS_BACKEND": backend, **env},
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stderr[-4000:]
    return json.loads(lines[-1][len("REPORT ") :])


def assert_matches_one_device(run, report):
    assert len(run["losses"]) == len(report["reference_losses"]) == 4
    assert run["max_loss_diff"] <= LOSS_ATOL, run["losses"]
    assert run["max_weight_diff"] <= WEIGHT_ATOL


@pytest.mark.skipif(
    BACKEND != "jax", reason="keras.distribution runs on JAX (this is the jax lane's test)"
)
def test_jax_data_and_model_parallel_training_match_one_device():
    report = run_job("jax", XLA_FLAGS="--xla_force_host_platform_device_count=8")
    assert report["devices"] == 8
    losses = report["reference_losses"]
    assert losses[-1] < losses[0]  # it trained

    data_parallel = report["data_parallel"]
    assert_matches_one_device(data_parallel, report)
    for path, layout in data_parallel["layouts"].items():  # weights whole on every device
        assert layout["devices"] == 8 and layout["shard"] == layout["shape"], path

    sizes = {"batch": 2, "model": 4}
    for name in ("model_parallel", "fully_sharded"):
        run = report[name]
        assert_matches_one_device(run, report)
        split = 0
        for path, expected in run["expected"].items():
            layout = run["layouts"][path]
            axes = expected or [None] * len(layout["shape"])
            assert layout["spec"] == axes, path
            pieces = [
                size // sizes[axis] if axis else size
                for size, axis in zip(layout["shape"], axes, strict=True)
            ]
            assert layout["shard"] == pieces, path
            split += expected is not None and any(axes)
            # the optimizer's moments are laid out as their weight
            slots = [p for p in run["layouts"] if p.endswith(path.replace("/", "_") + "_momentum")]
            assert [run["layouts"][s]["spec"] for s in slots] == [axes], path
        assert split == 2 + 10 * 2  # the two tables, ten per block


@pytest.mark.skipif(
    BACKEND != "jax", reason="keras.distribution runs on JAX (this is the jax lane's test)"
)
def test_jax_two_processes_each_reading_its_own_files_match_one_device(tmp_path):
    """jax.distributed over localhost: 2 processes of 4 CPU devices, each
    feeding its local batch from its own files, under DataParallel (8
    devices) and ModelParallel (2 x 4: a replica a process); against one
    device trained on the global batches (process 0's rows, then 1's).
    ModelParallel trains by `fit`."""
    write_corpus(tmp_path)
    with socket.socket() as probe:  # a free port for the coordinator
        probe.bind(("localhost", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
    }
    command = [sys.executable, "-m", "tests.bert.distributed_job", "jax-process"]
    logs = [(tmp_path / f"process-{i}.out", tmp_path / f"process-{i}.err") for i in range(2)]
    processes = []
    for index, (out, err) in enumerate(logs):  # files, not pipes: neither may block
        with open(out, "w") as stdout, open(err, "w") as stderr:
            processes.append(
                subprocess.Popen(
                    [*command, str(index), str(port), str(tmp_path)],
                    cwd=ROOT,
                    env=env,
                    stdout=stdout,
                    stderr=stderr,
                )  # fmt: skip
            )
    reports = []
    try:
        for process, (out, err) in zip(processes, logs, strict=True):
            process.wait(timeout=900)
            lines = [line for line in out.read_text().splitlines() if line.startswith("REPORT ")]
            assert process.returncode == 0 and lines, err.read_text()[-4000:]
            reports.append(json.loads(lines[-1][len("REPORT ") :]))
    finally:
        for process in processes:
            process.kill()
    reference = distributed_job.files_reference(str(tmp_path))
    assert reference["losses"][-1] < reference["losses"][0]  # it trained
    for index, report in enumerate(reports):
        assert (report["processes"], report["devices"]) == (2, 8)
        for name in ("data_parallel", "model_parallel"):
            run = report[name]
            assert run["shard"] == [index, 2]
            assert run["files"] == [f"part-{index}.txt", f"part-{index + 2}.txt"]
            fit = "fit_" if name == "model_parallel" else ""  # trained by fit
            np.testing.assert_allclose(run["losses"], reference[f"{fit}losses"], atol=LOSS_ATOL)
            for got, want in zip(run["weights"], reference[f"{fit}weights"], strict=True):
                np.testing.assert_allclose(np.asarray(got), want, atol=WEIGHT_ATOL)


@pytest.mark.skipif(
    BACKEND != "tensorflow", reason="tf.distribute runs on TensorFlow (this is its lane's test)"
)
def test_tensorflow_mirrored_strategy_training_matches_one_device():
    report = run_job("tensorflow")
    run = report["mirrored"]
    assert report["devices"] == 4 and run["replicas"] == 4
    assert run["mirrored_weights"] == run["weights"]
    assert_matches_one_device(run, report)
