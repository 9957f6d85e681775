"""Loading by name and from keras-hub: `from_pretrained(name, revision=)`
passes the revision to the Hub download (faked here: no network), HF's
sharded safetensors (`model.safetensors.index.json`) load as one file does
and are read strictly, and keras-hub preset folders (BERT, GPT-2, ALBERT,
ELECTRA, written by keras-hub itself: tests/conformance/make_keras_hub_presets.py)
load into kerastack's backbones and tokenizers with keras-hub's recorded
outputs and ids."""

import fnmatch
import json
import os
import shutil
import sys
import types

import h5py
import numpy as np
import pytest

from kerastack.bert import AlbertBackbone, BertBackbone, save_hf_weights
from kerastack.core import keras
from kerastack.electra import ElectraBackbone
from kerastack.gpt import GPT2Backbone
from kerastack.models import (
    from_pretrained,
    load_keras_hub_preset,
    load_keras_hub_tokenizer,
    read_checkpoint_tensors,
    read_keras_weights,
    read_sharded_safetensors,
    write_checkpoint,
)
from kerastack.nezha import NezhaBackbone
from kerastack.nezha import save_hf_weights as save_nezha
from kerastack.tokenizers import HUB_FILES, BertTokenizer, checkpoint_folder
from tests.conformance import make_keras_hub_presets as presets
from tests.tolerances import RECORDED_TINY_ATOL

INDEX = "model.safetensors.index.json"


def _tiny_bert():
    return BertBackbone(
        vocabulary_size=23,
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=16,
    )


def _call(model, inputs):
    """The model's outputs (a dict of NumPy arrays, or one), called eagerly:
    no compiling for one tiny batch."""
    outputs = model(inputs, training=False)
    if isinstance(outputs, dict):
        return {key: keras.ops.convert_to_numpy(value) for key, value in outputs.items()}
    return keras.ops.convert_to_numpy(outputs)


def _bert_inputs():
    ids = np.array([[2, 7, 8, 9, 3], [2, 5, 3, 0, 0]], "int32")
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}


@pytest.fixture
def saved_bert(tmp_path):
    """A tiny BERT saved as an HF checkpoint, and the folder."""
    model = _tiny_bert()
    folder = str(tmp_path / "bert")
    save_hf_weights(model, folder)
    return model, folder


# -- revision= --------------------------------------------------------------


@pytest.fixture
def fake_hub(monkeypatch, saved_bert):
    """huggingface_hub with a `snapshot_download` that records its
    arguments and returns the saved tiny BERT's folder (no network)."""
    calls = []

    def snapshot_download(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        return saved_bert[1]

    module = types.ModuleType("huggingface_hub")
    module.snapshot_download = snapshot_download
    monkeypatch.setitem(sys.modules, "huggingface_hub", module)
    return calls


def test_from_pretrained_passes_the_revision_to_the_hub_download(fake_hub, saved_bert):
    model = from_pretrained("some-org/tiny-bert", revision="0123abc")
    assert type(model) is BertBackbone
    [(repo_id, kwargs)] = fake_hub
    assert repo_id == "some-org/tiny-bert"
    assert kwargs["revision"] == "0123abc"
    inputs = _bert_inputs()
    np.testing.assert_array_equal(
        _call(model, inputs)["sequence_output"],
        _call(saved_bert[0], inputs)["sequence_output"],
    )


def test_a_hub_download_without_a_revision_asks_for_the_default_branch(fake_hub):
    checkpoint_folder("some-org/tiny-bert")
    [(_, kwargs)] = fake_hub
    assert kwargs["revision"] is None
    # The download takes sharded checkpoints' index and shards too.
    patterns = kwargs["allow_patterns"]
    for name in (INDEX, "model-00001-of-00003.safetensors", "model.safetensors", "config.json"):
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
    assert patterns == HUB_FILES


def test_a_revision_with_a_local_folder_or_of_the_wrong_type_is_an_error(saved_bert, fake_hub):
    folder = saved_bert[1]
    with pytest.raises(ValueError, match=r"revision='main' names a revision .* local folder"):
        from_pretrained(folder, revision="main")
    with pytest.raises(ValueError, match=r"received 3"):
        checkpoint_folder("some-org/tiny-bert", revision=3)
    assert fake_hub == []  # nothing downloaded


# -- sharded safetensors ----------------------------------------------------


def _shard(saved_bert, tmp_path, max_shard_size=600):
    model, folder = saved_bert
    _, tensors = read_checkpoint_tensors(folder)
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as file:
        config = file.read()
    sharded = str(tmp_path / "sharded")
    write_checkpoint(sharded, tensors, config, max_shard_size=max_shard_size)
    return sharded, tensors


def test_a_sharded_checkpoint_loads_as_the_unsharded_one(saved_bert, tmp_path):
    sharded, tensors = _shard(saved_bert, tmp_path)
    files = sorted(os.listdir(sharded))
    shards = [name for name in files if name.startswith("model-")]
    assert len(shards) > 3 and "model.safetensors" not in files and INDEX in files
    with open(os.path.join(sharded, INDEX), encoding="utf-8") as file:
        index = json.load(file)
    assert set(index["weight_map"]) == set(tensors)
    assert set(index["weight_map"].values()) == set(shards)
    assert index["metadata"]["total_size"] == sum(v.nbytes for v in tensors.values())
    inputs = _bert_inputs()
    for model in (from_pretrained(sharded), BertBackbone.from_pretrained(sharded)):
        expected = _call(saved_bert[0], inputs)
        outputs = _call(model, inputs)
        for key in ("sequence_output", "pooled_output"):
            np.testing.assert_array_equal(outputs[key], expected[key])


def test_writing_one_layout_removes_the_other(saved_bert, tmp_path):
    sharded, tensors = _shard(saved_bert, tmp_path)
    write_checkpoint(sharded, tensors, "{}")  # back to one file
    assert sorted(os.listdir(sharded)) == ["config.json", "model.safetensors"]
    write_checkpoint(sharded, tensors, "{}", max_shard_size=10**6)  # one shard
    assert sorted(os.listdir(sharded)) == ["config.json", "model-00001-of-00001.safetensors", INDEX]
    with pytest.raises(ValueError, match="max_shard_size is a number of bytes"):
        write_checkpoint(sharded, tensors, "{}", max_shard_size=0)


# Every family's HF checkpoint fixture (NEZHA's is written here; XLM-R and
# CamemBERT load as RoBERTa does).
_FAMILY_FIXTURES = [
    "tiny_bert",
    "tiny_albert",
    "tiny_roberta",
    "tiny_gpt2",
    "tiny_openai_gpt",
    "tiny_t5",
    "tiny_electra/discriminator",
    "tiny_roformer/model",
    "nezha",
]


@pytest.mark.parametrize("fixture", _FAMILY_FIXTURES)
def test_every_family_loads_a_sharded_checkpoint_as_the_unsharded_one(tmp_path, fixture):
    if fixture == "nezha":
        folder = str(tmp_path / "nezha")
        save_nezha(
            NezhaBackbone(
                vocabulary_size=23,
                num_layers=1,
                num_heads=2,
                hidden_dim=8,
                intermediate_dim=16,
                max_sequence_length=16,
            ),
            folder,
        )
    else:
        folder = os.path.join(presets.FIXTURES, fixture)
    _, tensors = read_checkpoint_tensors(folder)
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as file:
        config = file.read()
    sharded = str(tmp_path / "sharded")
    size = sum(value.nbytes for value in tensors.values())
    write_checkpoint(sharded, tensors, config, max_shard_size=size // 3)
    assert len([name for name in os.listdir(sharded) if name.startswith("model-")]) >= 3
    expected, model = from_pretrained(folder), from_pretrained(sharded)
    assert type(model) is type(expected)
    for ours, theirs in zip(model.weights, expected.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs), err_msg=ours.path)


def _edit_index(folder, edit):
    path = os.path.join(folder, INDEX)
    with open(path, encoding="utf-8") as file:
        index = json.load(file)
    edit(index["weight_map"])
    with open(path, "w", encoding="utf-8") as file:
        json.dump(index, file)
    return path


def test_a_missing_shard_is_an_error_naming_it_and_its_tensors(saved_bert, tmp_path):
    sharded, _ = _shard(saved_bert, tmp_path)
    with open(os.path.join(sharded, INDEX), encoding="utf-8") as file:
        weight_map = json.load(file)["weight_map"]
    lost = sorted(set(weight_map.values()))[1]
    os.remove(os.path.join(sharded, lost))
    held = sorted(name for name, shard in weight_map.items() if shard == lost)
    with pytest.raises(FileNotFoundError, match=f"{lost} \\(holding {held[0]}"):
        from_pretrained(sharded)


def test_an_index_that_does_not_match_its_shards_is_an_error_naming_the_tensors(tmp_path):
    folder = str(tmp_path)
    tensors = {name: np.full((4,), i, "float32") for i, name in enumerate("abcd")}
    write_checkpoint(folder, tensors, "{}", max_shard_size=16)  # one tensor a shard
    first, second = "model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors"
    index = os.path.join(folder, INDEX)
    assert {k: v.tolist() for k, v in read_sharded_safetensors(index).items()} == {
        k: v.tolist() for k, v in tensors.items()
    }

    # A tensor the index puts in a shard that lacks it.
    _edit_index(folder, lambda weight_map: weight_map.update(a=second))
    with pytest.raises(ValueError, match=f"the index lists but their shard lacks: a \\({second}"):
        read_sharded_safetensors(index)
    _edit_index(folder, lambda weight_map: weight_map.update(a=first))

    # A tensor in a shard the index does not list it in.
    from safetensors.numpy import save_file

    save_file({"b": tensors["b"], "e": tensors["a"]}, os.path.join(folder, second))
    with pytest.raises(ValueError, match=f"does not list them in: e \\({second}"):
        read_sharded_safetensors(index)

    # A tensor in two shards.
    save_file({"b": tensors["b"], "c": tensors["c"]}, os.path.join(folder, second))
    with pytest.raises(ValueError, match=r"more than one shard: c \(model-00002.* and model-00003"):
        read_sharded_safetensors(index)

    # An index naming a file outside its folder, and one with no weight_map.
    _edit_index(folder, lambda weight_map: weight_map.update(a="../model.safetensors"))
    with pytest.raises(ValueError, match=r"puts tensor 'a' in '../model.safetensors'"):
        read_sharded_safetensors(index)
    with open(index, "w", encoding="utf-8") as file:
        json.dump({"metadata": {}}, file)
    with pytest.raises(ValueError, match="has no weight_map"):
        read_checkpoint_tensors(folder)


# -- keras-hub presets ------------------------------------------------------

BERT_PRESET = presets.BERT_FOLDER
# (preset folder, the kerastack class it loads as, its inputs).
PRESETS = {
    "bert": (presets.BERT_FOLDER, BertBackbone, presets.batch),
    "gpt2": (presets.GPT2_FOLDER, GPT2Backbone, presets.gpt2_batch),
    "albert": (presets.ALBERT_FOLDER, AlbertBackbone, presets.batch),
    "electra": (presets.ELECTRA_FOLDER, ElectraBackbone, presets.batch),
}


def _reference(folder):
    return np.load(os.path.join(folder, presets.REFERENCE))


def _assert_equal_outputs(outputs, reference, inputs):
    """Every output at the real positions (padded ones mean nothing)."""
    if not isinstance(outputs, dict):
        outputs = {"sequence_output": outputs}
    real = inputs["padding_mask"].astype(bool)
    np.testing.assert_allclose(
        outputs["sequence_output"][real],
        reference["sequence_output"][real],
        rtol=0,
        atol=RECORDED_TINY_ATOL,
    )
    if "pooled_output" in outputs:
        np.testing.assert_allclose(
            outputs["pooled_output"], reference["pooled_output"], rtol=0, atol=RECORDED_TINY_ATOL
        )


@pytest.mark.parametrize("family", sorted(PRESETS))
def test_a_keras_hub_preset_loads_with_keras_hubs_outputs(family):
    folder, cls, batch = PRESETS[family]
    model = from_pretrained(folder)
    assert type(model) is cls
    assert model.activation == "gelu_approximate" and model.num_heads == 3
    inputs = batch()
    _assert_equal_outputs(_call(model, inputs), _reference(folder), inputs)


@pytest.mark.parametrize(
    "folder, texts",
    [(presets.BERT_FOLDER, presets.TEXTS), (presets.GPT2_FOLDER, presets.GPT2_TEXTS)],
    ids=["bert", "gpt2"],
)
def test_a_keras_hub_preset_tokenizer_gives_keras_hubs_ids(folder, texts):
    tokenizer = load_keras_hub_tokenizer(folder)
    reference = _reference(folder)
    for index, text in enumerate(texts):
        assert tokenizer.token_ids(text) == reference[f"ids_{index}"].tolist(), text


def test_a_preset_dtype_argument_overrides_the_presets_policy():
    model = from_pretrained(BERT_PRESET, dtype="mixed_float16")
    assert model.dtype_policy.name == "mixed_float16"
    assert model.get_layer("token_embedding").embeddings.dtype == "float32"


def test_keras_weights_are_read_by_layer_name():
    tensors = read_keras_weights(os.path.join(BERT_PRESET, "model.weights.h5"))
    assert tensors["token_embedding/0"].shape == (23, 12)
    assert tensors["transformer_layer_1/_self_attention_layer/query_dense/0"].shape == (12, 3, 4)


def _edited_preset(tmp_path, edit):
    folder = str(tmp_path / "preset")
    shutil.copytree(BERT_PRESET, folder)
    with h5py.File(os.path.join(folder, "model.weights.h5"), "r+") as file:
        edit(file)
    return folder


_POOLER = "layers/dense/vars"


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda f: f[_POOLER].__delitem__("1"), r"missing weights: pooled_dense/1"),
        (
            lambda f: f[_POOLER].create_dataset("2", data=np.zeros(3, "float32")),
            r"unexpected weights: pooled_dense/2",
        ),
        (
            lambda f: (
                f[_POOLER].__delitem__("1"),
                f[_POOLER].create_dataset("1", data=np.zeros(5, "float32")),
            ),
            r"mismatches: pooled_dense/1: file \(5,\) float32, model \(12,\)",
        ),
    ],
    ids=["missing", "unexpected", "mis-shaped"],
)
def test_a_preset_that_does_not_fit_is_an_error_naming_the_weight(tmp_path, edit, message):
    folder = _edited_preset(tmp_path, edit)
    with pytest.raises(ValueError, match=message):
        from_pretrained(folder)


def test_a_preset_of_a_class_no_family_reads_or_with_a_task_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="loads as a backbone only"):
        from_pretrained(BERT_PRESET, task="classification")
    folder = str(tmp_path / "preset")
    shutil.copytree(BERT_PRESET, folder)
    path = os.path.join(folder, "config.json")
    with open(path, encoding="utf-8") as file:
        config = json.load(file)
    config["registered_name"] = "keras_hub>MysteryBackbone"
    with open(path, "w", encoding="utf-8") as file:
        json.dump(config, file)
    with pytest.raises(ValueError, match=r"keras-hub MysteryBackbone, which no installed .*'Bert"):
        load_keras_hub_preset(folder)


@pytest.mark.parametrize("family", sorted(PRESETS))
def test_a_preset_keras_hub_writes_now_loads_with_its_outputs(tmp_path, family):
    """Live, where keras-hub is installed (it is in no lane by default: see
    make_keras_hub_presets.py for how to add it)."""
    keras_hub = pytest.importorskip("keras_hub", reason="keras-hub is not installed in this lane")
    name, config = {
        "bert": ("BertBackbone", presets.BERT_CONFIG),
        "gpt2": ("GPT2Backbone", presets.GPT2_CONFIG),
        "albert": ("AlbertBackbone", presets.ALBERT_CONFIG),
        "electra": ("ElectraBackbone", presets.ELECTRA_CONFIG),
    }[family]
    backbone = getattr(keras_hub.models, name)(**config)
    presets._randomize(backbone, 1)
    folder = str(tmp_path / "preset")
    backbone.save_to_preset(folder)
    inputs = PRESETS[family][2]()
    expected = backbone.predict(inputs, verbose=0)
    if not isinstance(expected, dict):
        expected = {"sequence_output": expected}
    _assert_equal_outputs(_call(from_pretrained(folder), inputs), expected, inputs)


def test_a_familys_own_from_pretrained_and_a_tokenizer_pass_the_revision(
    fake_hub, saved_bert, tmp_path
):
    model = BertBackbone.from_pretrained("some-org/tiny-bert", revision="v2")
    assert type(model) is BertBackbone
    with open(os.path.join(saved_bert[1], "vocab.txt"), "w", encoding="utf-8") as file:
        file.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello"]) + "\n")
    tokenizer = BertTokenizer.from_folder("some-org/tiny-bert", revision="v3")
    assert tokenizer.token_ids("hello") == [5]
    assert [kwargs["revision"] for _, kwargs in fake_hub] == ["v2", "v3"]


def test_a_bfloat16_keras_hub_preset_loads(tmp_path):
    """Keras writes bfloat16 weights as raw 2-byte values; they load as the
    same numbers (bfloat16 widens to float32 exactly)."""
    keras_hub = pytest.importorskip("keras_hub", reason="keras-hub is not installed in this lane")
    config = dict(
        vocabulary_size=30,
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=16,
    )
    theirs = keras_hub.models.BertBackbone(**config, dtype="bfloat16")
    theirs.save_to_preset(str(tmp_path / "preset"))
    ours = from_pretrained(str(tmp_path / "preset"))
    assert ours.dtype_policy.name == "bfloat16"
    inputs = _bert_inputs()
    actual = _call(ours, inputs)["sequence_output"].astype("float32")
    expected = keras.ops.convert_to_numpy(theirs(inputs)["sequence_output"]).astype("float32")
    # Both compute in bfloat16 (8 bits of mantissa: 1.6e-2 apart near 2-4).
    np.testing.assert_allclose(actual, expected, atol=5e-2)


def test_writing_a_checkpoint_over_an_index_naming_its_own_files_keeps_them(tmp_path):
    folder = str(tmp_path / "checkpoint")
    os.makedirs(folder)
    with open(os.path.join(folder, INDEX), "w", encoding="utf-8") as file:
        weight_map = {"w": "model.safetensors", "v": "config.json", "u": ".."}
        json.dump({"weight_map": weight_map}, file)
    write_checkpoint(folder, {"w": np.ones(2, "float32")}, "{}")
    assert sorted(os.listdir(folder)) == ["config.json", "model.safetensors"]
    np.testing.assert_array_equal(read_checkpoint_tensors(folder)[1]["w"], np.ones(2, "float32"))
