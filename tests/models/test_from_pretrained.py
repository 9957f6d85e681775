"""`kerastack.models.from_pretrained`: the one entry point that reads which
family a checkpoint is (its `config.json`'s model_type, or a Google
checkpoint's config file) and builds that family's backbone or task model,
from the families installed (their `"kerastack.models"` entry points).

The checkpoints are the committed tiny fixtures the families' own
conformance tests check against transformers; here the same model built
through the generic entry point must give the same outputs as the family
class's own `from_pretrained`."""

import json
import os
import shutil

import numpy as np
import pytest

from kerastack.bert import AlbertBackbone, BertBackbone, BertClassifier
from kerastack.gpt import GPT2Backbone, GPT2CausalLM
from kerastack.models import TASKS, from_pretrained, model_types
from kerastack.nezha import NezhaBackbone
from tests.conformance import make_references as refs

FIXTURES = refs.FIXTURES


def _bert_inputs():
    ids = np.array([[2, 7, 8, 9, 3], [2, 5, 3, 0, 0]], "int32")
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}


def test_every_registered_task_is_a_known_task_and_loads_a_class():
    types = model_types()
    assert {"bert", "roberta", "albert", "gpt2"} <= set(types)
    for model_type, tasks in types.items():
        assert set(tasks) <= set(TASKS), (model_type, tasks)


def test_a_bert_checkpoint_gives_the_same_backbone_as_the_family_class():
    folder = os.path.join(FIXTURES, "tiny_bert")
    model = from_pretrained(folder)
    assert type(model) is BertBackbone
    expected = BertBackbone.from_pretrained(folder)
    inputs = _bert_inputs()
    np.testing.assert_array_equal(
        model.predict(inputs, verbose=0)["sequence_output"],
        expected.predict(inputs, verbose=0)["sequence_output"],
    )


def test_a_task_checkpoint_gives_the_task_model_with_its_labels_from_the_config():
    folder = os.path.join(FIXTURES, "tiny_classifier")
    model = from_pretrained(folder, task="classification")
    assert type(model) is BertClassifier
    expected = BertClassifier.from_pretrained(folder, num_classes=3)
    inputs = _bert_inputs()
    logits = model.predict(inputs, verbose=0)
    assert logits.shape == (2, 3)  # three labels in config.json's id2label
    np.testing.assert_array_equal(logits, expected.predict(inputs, verbose=0))


def test_a_binary_classifier_without_labels_in_its_config_has_two_classes(tmp_path):
    # transformers 5 writes neither id2label nor num_labels for its default, 2.
    folder = tmp_path / "binary"
    shutil.copytree(os.path.join(FIXTURES, "tiny_classifier"), folder)
    config = json.loads((folder / "config.json").read_text())
    for key in ("id2label", "label2id", "num_labels"):
        config.pop(key, None)
    (folder / "config.json").write_text(json.dumps(config))
    # The fixture's head has three rows: two classes read from the config
    # do not fit it, which shows the default was taken.
    with pytest.raises(
        ValueError, match=r"classifier\.weight: checkpoint \(3, 32\), model \(2, 32\)"
    ):
        from_pretrained(str(folder), task="classification")
    config["num_labels"] = 0
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="num_labels=0, not a positive int"):
        from_pretrained(str(folder), task="classification")


def test_num_labels_without_id2label_and_an_explicit_num_classes(tmp_path):
    folder = tmp_path / "classifier"
    shutil.copytree(os.path.join(FIXTURES, "tiny_classifier"), folder)
    config = json.loads((folder / "config.json").read_text())
    del config["id2label"], config["label2id"]
    config["num_labels"] = 3
    (folder / "config.json").write_text(json.dumps(config))
    assert from_pretrained(str(folder), task="classification").output_shape[-1] == 3
    # A head of another size does not fit the checkpoint: a strict error.
    with pytest.raises(ValueError, match="classifier"):
        from_pretrained(str(folder), task="classification", num_classes=5)


def test_google_checkpoints_are_read_by_their_config_file_name():
    assert type(from_pretrained(os.path.join(FIXTURES, "tiny_google"))) is BertBackbone
    albert = from_pretrained(os.path.join(FIXTURES, "tiny_albert_google"))
    assert type(albert) is AlbertBackbone
    # Huawei's NEZHA: a bert_config.json with max_relative_position.
    nezha = from_pretrained(os.path.join(FIXTURES, "tiny_nezha_huawei"))
    assert type(nezha) is NezhaBackbone


def test_a_decoder_family_and_its_language_model():
    folder = os.path.join(FIXTURES, "tiny_gpt2")
    assert type(from_pretrained(folder)) is GPT2Backbone
    assert type(from_pretrained(folder, task="causal_lm")) is GPT2CausalLM


def test_model_type_says_which_family_a_google_checkpoint_is():
    google = os.path.join(FIXTURES, "tiny_google")
    assert type(from_pretrained(google, model_type="bert")) is BertBackbone
    with pytest.raises(ValueError, match=r"Unknown model_type 'bort' \(from model_type=\)"):
        from_pretrained(google, model_type="bort")
    with pytest.raises(ValueError, match="model_type must be a non-empty string"):
        from_pretrained(google, model_type="")


@pytest.mark.parametrize(
    "config, message",
    [
        ({"model_type": "nonexistent"}, r"Unknown model_type 'nonexistent'.*\['albert', "),
        ({"hidden_size": 8}, "has no model_type .*pass model_type="),
        ([1, 2], "not a JSON object"),
    ],
)
def test_configs_that_name_no_installed_family_are_errors(tmp_path, config, message):
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=message):
        from_pretrained(str(tmp_path))


def test_a_folder_without_a_config_and_an_unknown_task_are_errors(tmp_path):
    with pytest.raises(ValueError, match="holds no config.json"):
        from_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match=r"no task model for task='causal_lm'.*classification"):
        from_pretrained(os.path.join(FIXTURES, "tiny_bert"), task="causal_lm")
    bert = os.path.join(FIXTURES, "tiny_bert")  # a backbone checkpoint: no head to load
    with pytest.raises(ValueError, match=r"missing tensors: classifier\.bias, classifier\.weight"):
        from_pretrained(bert, task="classification")
    with pytest.raises(FileNotFoundError):
        from_pretrained(str(tmp_path / "missing"))
