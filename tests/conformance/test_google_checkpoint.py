"""Google-format BERT checkpoints, written by TensorFlow, read with NumPy alone
and loaded into kerastack-bert on every Keras 3 lane (TensorFlow or not).

The fixture (tests/conformance/fixtures/tiny_google, written by
`python -m tests.conformance.make_google_checkpoint` in the tensorflow lane)
holds the weights of the tiny HF pretraining checkpoint, so the outputs must
be transformers' recorded ones."""

import importlib.util
import os
import shutil

import numpy as np
import pytest

from kerastack.bert import (
    BertBackbone,
    BertPretrainer,
    CheckpointError,
    google_to_hf_name,
    read_tf_checkpoint,
)
from tests.conformance import make_references as refs
from tests.conformance.make_google_checkpoint import FOLDER, hf_to_google

PREFIX = os.path.join(FOLDER, "bert_model.ckpt")


def test_pretrainer_from_google_checkpoint_matches_transformers():
    model = BertPretrainer.from_pretrained(FOLDER)
    ids, segments, mask, mlm, nsp = refs.load_reference(
        os.path.join(refs.FIXTURES, "tiny_pretraining_reference.npz")
    )
    outputs = model.predict(
        {
            "token_ids": ids,
            "segment_ids": segments,
            "padding_mask": mask,
            "mask_positions": np.array(refs.MASK_POSITIONS, "int32"),
        },
        verbose=0,
    )
    np.testing.assert_allclose(outputs["mlm_logits"], mlm, atol=1e-5, rtol=0)
    np.testing.assert_allclose(outputs["nsp_logits"], nsp, atol=1e-5, rtol=0)


def test_backbone_leaves_heads_and_optimizer_state_out():
    from kerastack.bert import load_google_checkpoint

    backbone = BertBackbone.from_config_file(FOLDER)
    left_out = load_google_checkpoint(backbone, FOLDER)
    assert left_out and all(name.startswith("cls.") for name in left_out)


def test_reader_reads_every_tensor():
    tensors = read_tf_checkpoint(PREFIX)
    assert "global_step" in tensors and tensors["global_step"].dtype == np.int64
    kernel = tensors["bert/encoder/layer_1/attention/self/query/kernel"]
    assert kernel.shape == (32, 32) and kernel.dtype == np.float32
    assert read_tf_checkpoint(PREFIX + ".index", names=["global_step"]).keys() == {"global_step"}


@pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None,
    reason="TensorFlow, the reference reader, is installed in the tensorflow lane only",
)
def test_reader_equals_tensorflows_reader():
    import tensorflow as tf

    reader = tf.train.load_checkpoint(PREFIX)
    ours = read_tf_checkpoint(PREFIX)
    assert set(ours) == set(reader.get_variable_to_shape_map())
    for name, value in ours.items():
        np.testing.assert_array_equal(value, reader.get_tensor(name))


@pytest.mark.parametrize(
    "name",
    [
        "embeddings.word_embeddings.weight",
        "embeddings.LayerNorm.bias",
        "encoder.layer.1.attention.self.value.weight",
        "encoder.layer.0.output.LayerNorm.weight",
        "pooler.dense.weight",
        "cls.predictions.transform.dense.weight",
        "cls.seq_relationship.weight",
        "cls.predictions.bias",
    ],
)
def test_google_names_map_back_to_hf_names(name):
    google, transpose = hf_to_google(name)
    assert google_to_hf_name(google) == (name, transpose)


def copy_checkpoint(tmp_path):
    target = tmp_path / "ckpt"
    shutil.copytree(FOLDER, target)
    return target, target / "bert_model.ckpt"


def test_truncated_and_corrupt_files_are_clear_errors(tmp_path):
    folder, prefix = copy_checkpoint(tmp_path)
    data = prefix.parent / "bert_model.ckpt.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="data file is truncated"):
        read_tf_checkpoint(str(prefix))
    index = prefix.parent / "bert_model.ckpt.index"
    index.write_bytes(index.read_bytes()[:-8] + b"\x00" * 8)
    with pytest.raises(CheckpointError, match="bad magic number"):
        read_tf_checkpoint(str(prefix))
    index.write_bytes(b"short")
    with pytest.raises(CheckpointError, match="too short"):
        read_tf_checkpoint(str(prefix))
    from kerastack.bert import load_google_checkpoint

    backbone = BertBackbone.from_config_file(str(folder))
    before = [np.array(w) for w in backbone.get_weights()]
    with pytest.raises(CheckpointError):
        load_google_checkpoint(backbone, str(folder))
    for old, new in zip(before, backbone.get_weights(), strict=True):
        np.testing.assert_array_equal(old, np.array(new))  # nothing half-loaded
    os.remove(index)
    with pytest.raises(FileNotFoundError, match="found none"):
        read_tf_checkpoint(str(folder))
