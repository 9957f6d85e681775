"""Where checkpoints come from: a Hugging Face Hub name (through
huggingface_hub's cache, offline here), PyTorch `pytorch_model.bin`
files (read with `weights_only=True` where PyTorch is installed, a clear
error where it is not), and Google's ALBERT TensorFlow checkpoints."""

import importlib.util
import os
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file

from kerastack.bert import AlbertBackbone, BertBackbone, BertTokenizer, load_google_checkpoint
from tests.conformance import make_bert4keras_models as bert4keras_refs
from tests.conformance import make_references as refs
from tests.tolerances import RECORDED_TINY_ATOL

HAS_TORCH = importlib.util.find_spec("torch") is not None


class NotATensor:
    """Pickled by torch.save; weights_only loading refuses to build it."""


def outputs(backbone):
    reference = np.load(refs.TINY_REFERENCE)
    data = {"token_ids": reference["arr_0"], "segment_ids": reference["arr_1"],
            "padding_mask": reference["arr_2"]}  # fmt: skip
    return backbone.predict(data, verbose=0)["sequence_output"]


def test_hub_name_resolves_through_the_huggingface_hub_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    # The cache layout huggingface_hub itself writes: refs/main names a snapshot.
    revision = "0123456789abcdef0123456789abcdef01234567"
    repository = tmp_path / "models--kerastack--tiny-bert"
    snapshot = repository / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (repository / "refs").mkdir()
    (repository / "refs" / "main").write_text(revision)
    for name in ("config.json", "model.safetensors"):
        shutil.copy(os.path.join(refs.TINY_FOLDER, name), snapshot / name)
    vocabulary = [f"t{i}" for i in range(99)]
    vocabulary[:5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    (snapshot / "vocab.txt").write_text("\n".join(vocabulary) + "\n")
    (snapshot / "tokenizer_config.json").write_text('{"do_lower_case": false}')
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # never the network
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    from_hub = BertBackbone.from_pretrained("kerastack/tiny-bert")
    from_folder = BertBackbone.from_pretrained(refs.TINY_FOLDER)
    np.testing.assert_allclose(outputs(from_hub), outputs(from_folder), atol=1e-6)
    tokenizer = BertTokenizer.from_folder("kerastack/tiny-bert")
    assert tokenizer.vocabulary_size == 99 and not tokenizer.lowercase
    with pytest.raises(OSError, match="'kerastack/absent'.*could not be had"):
        BertBackbone.from_pretrained("kerastack/absent")  # not cached, and offline
    with pytest.raises(FileNotFoundError, match="No checkpoint folder"):
        BertBackbone.from_pretrained(str(tmp_path / "nowhere"))


def test_a_hub_download_holds_every_familys_tokenizer_files(tmp_path, monkeypatch):
    # A stand-in for huggingface_hub.snapshot_download that, like the real
    # one, fetches only the files allow_patterns names.
    import fnmatch

    import huggingface_hub

    from kerastack.bert import AlbertBackbone, AlbertTokenizer, RobertaTokenizer
    from tests.conformance import make_family_references as family_refs

    sources = {"org/roberta": family_refs.ROBERTA_FOLDER, "org/albert": family_refs.ALBERT_FOLDER}

    def snapshot_download(name, allow_patterns, **kwargs):
        folder = tmp_path / name.replace("/", "--")
        folder.mkdir(exist_ok=True)
        for file in os.listdir(sources[name]):
            if any(fnmatch.fnmatch(file, pattern) for pattern in allow_patterns):
                shutil.copy(os.path.join(sources[name], file), folder / file)
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    roberta = RobertaTokenizer.from_folder("org/roberta")
    local = RobertaTokenizer.from_folder(family_refs.ROBERTA_FOLDER)
    assert roberta.token_ids("Hello world!") == local.token_ids("Hello world!")
    albert = AlbertTokenizer.from_folder("org/albert")
    assert (
        albert.vocabulary_size
        == AlbertTokenizer.from_folder(family_refs.ALBERT_FOLDER).vocabulary_size
    )
    AlbertBackbone.from_pretrained("org/albert")  # config and weights came too


def test_tokenizer_case_from_config_or_google_folder_names(tmp_path):
    vocabulary = "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Hello", "hello"])
    for name, lowercase in [("uncased_L-2_H-32", True), ("cased_L-2_H-32", False),
                            ("multi_cased_L-2", False), ("chinese_L-2", True)]:  # fmt: skip
        folder = tmp_path / name
        folder.mkdir()
        (folder / "vocab.txt").write_text(vocabulary)
        assert BertTokenizer.from_folder(folder).lowercase is lowercase, name
    (tmp_path / "cased_L-2_H-32" / "tokenizer_config.json").write_text('{"do_lower_case": true}')
    assert BertTokenizer.from_folder(tmp_path / "cased_L-2_H-32").lowercase


@pytest.mark.skipif(not HAS_TORCH, reason="writing pytorch_model.bin needs PyTorch (torch lane)")
def test_pytorch_bin_loads_like_safetensors(tmp_path):
    import torch

    tensors = load_file(os.path.join(refs.TINY_FOLDER, "model.safetensors"))
    shutil.copy(os.path.join(refs.TINY_FOLDER, "config.json"), tmp_path / "config.json")
    torch.save({k: torch.from_numpy(v) for k, v in tensors.items()}, tmp_path / "pytorch_model.bin")
    from_bin = BertBackbone.from_pretrained(str(tmp_path))
    from_safetensors = BertBackbone.from_pretrained(refs.TINY_FOLDER)
    np.testing.assert_array_equal(outputs(from_bin), outputs(from_safetensors))

    torch.save({"weight": NotATensor()}, tmp_path / "pytorch_model.bin")  # needs unpickling code
    with pytest.raises(ValueError, match="not a readable PyTorch weights file"):
        BertBackbone.from_pretrained(str(tmp_path))
    (tmp_path / "pytorch_model.bin").write_bytes(b"corrupt" * 10)
    with pytest.raises(ValueError, match="not a readable PyTorch weights file"):
        BertBackbone.from_pretrained(str(tmp_path))


@pytest.mark.skipif(HAS_TORCH, reason="the error where PyTorch is absent (tensorflow, jax lanes)")
def test_pytorch_bin_without_torch_is_a_clear_error(tmp_path):
    shutil.copy(os.path.join(refs.TINY_FOLDER, "config.json"), tmp_path / "config.json")
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x02")
    with pytest.raises(ImportError, match="needs PyTorch"):
        BertBackbone.from_pretrained(str(tmp_path))


def test_google_albert_checkpoint_loads_into_albert_backbone():
    # The tiny ALBERT bert4keras wrote in Google's format; its outputs as
    # bert4keras computed them (erf GELU, as bert4keras reads "gelu").
    settings = bert4keras_refs.ALBERT_SETTINGS
    backbone = AlbertBackbone(
        vocabulary_size=settings["vocab_size"],
        num_layers=settings["num_hidden_layers"],
        num_heads=settings["num_attention_heads"],
        hidden_dim=settings["hidden_size"],
        intermediate_dim=settings["intermediate_size"],
        embedding_dim=settings["embedding_size"],
        max_sequence_length=settings["max_position_embeddings"],
        activation="gelu",
    )
    left_out = load_google_checkpoint(backbone, bert4keras_refs.ALBERT_FOLDER)
    assert left_out == [
        "predictions.LayerNorm.bias",
        "predictions.LayerNorm.weight",
        "predictions.bias",
        "predictions.dense.bias",
        "predictions.dense.weight",
        "sop_classifier.classifier.bias",
        "sop_classifier.classifier.weight",
    ]
    token_ids = bert4keras_refs.TOKEN_IDS
    features = {
        "token_ids": token_ids,
        "segment_ids": bert4keras_refs.SEGMENT_IDS,
        "padding_mask": (token_ids != 0).astype("int32"),
    }
    result = backbone.predict(features, verbose=0)
    recorded = np.load(bert4keras_refs.OUTPUT)
    real = token_ids != 0  # bert4keras's padded rows differ (see kerastack.bert4keras)
    np.testing.assert_allclose(
        result["sequence_output"][real],
        recorded["albert_encoder/0"][real],
        rtol=0,
        atol=RECORDED_TINY_ATOL,
    )
    np.testing.assert_allclose(
        result["pooled_output"], recorded["albert_pool/0"], rtol=0, atol=RECORDED_TINY_ATOL
    )
    # A BERT backbone finds none of its block names there: an error, nothing loaded.
    bert = BertBackbone(vocabulary_size=99, num_layers=2, num_heads=4, hidden_dim=32,
                        intermediate_dim=37, max_sequence_length=64)  # fmt: skip
    before = bert.get_weights()
    with pytest.raises(ValueError, match="missing tensors"):
        load_google_checkpoint(bert, bert4keras_refs.ALBERT_FOLDER)
    for old, new in zip(before, bert.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
