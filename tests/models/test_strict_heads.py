"""Strict loading of task heads and tied decoders (`assign_hf_tensors`),
for every family at once: a prefix the backbone leaves out (`classifier.`)
is loaded strictly by a model that has weights under it, and a masked-LM
decoder that is not the word table (an untied head) is an error, not
silently dropped. `dtype=` given to a task model's `from_pretrained`
reaches the backbone's layers."""

import os

import numpy as np
import pytest

from kerastack.bert import BertBackbone, BertClassifier, BertPretrainer
from kerastack.models import assign_hf_tensors, from_pretrained, read_checkpoint_tensors
from tests.conformance import make_references as refs


def _tensors(name):
    return read_checkpoint_tensors(os.path.join(refs.FIXTURES, name))[1]


def _classifier():
    backbone = BertBackbone.from_config_file(os.path.join(refs.FIXTURES, "tiny_classifier"))
    return BertClassifier(backbone, num_classes=3)


def test_a_backbone_leaves_a_head_out_but_a_task_model_loads_it_strictly():
    tensors = _tensors("tiny_classifier")
    tensors["classifier.extra.weight"] = np.ones((3, 3), "float32")
    backbone = BertBackbone.from_config_file(os.path.join(refs.FIXTURES, "tiny_classifier"))
    assert "classifier.extra.weight" in assign_hf_tensors(backbone, dict(tensors), "tiny")
    model = _classifier()
    before = [np.array(w) for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"unexpected tensors: .*classifier\.extra\.weight"):
        assign_hf_tensors(model, dict(tensors), "tiny")
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)  # nothing changed
    del tensors["classifier.extra.weight"]
    assert assign_hf_tensors(model, tensors, "tiny") == []


def test_a_tied_decoder_copy_loads_and_an_untied_decoder_is_an_error():
    tensors = _tensors("tiny_pretraining")
    words = tensors["bert.embeddings.word_embeddings.weight"]
    model = BertPretrainer(
        BertBackbone.from_config_file(os.path.join(refs.FIXTURES, "tiny_pretraining"))
    )
    tied = dict(tensors)
    tied["cls.predictions.decoder.weight"] = words.copy()  # as older files hold it
    tied["cls.predictions.decoder.bias"] = tensors["cls.predictions.bias"].copy()
    assign_hf_tensors(model, tied, "tied")
    untied = dict(tied)
    untied["cls.predictions.decoder.weight"] = words + 1.0
    with pytest.raises(ValueError, match=r"unexpected tensors: cls\.predictions\.decoder\.weight"):
        assign_hf_tensors(model, untied, "untied")


def test_dtype_reaches_the_backbone_of_a_task_model():
    folder = os.path.join(refs.FIXTURES, "tiny_classifier")
    for model in (
        BertClassifier.from_pretrained(folder, num_classes=3, dtype="mixed_bfloat16"),
        from_pretrained(folder, task="classification", dtype="mixed_bfloat16"),
    ):
        assert model.dtype_policy.name == "mixed_bfloat16"
        assert model.backbone.dtype_policy.name == "mixed_bfloat16"
        dense = model.backbone.get_layer("pooled_dense")
        assert dense.compute_dtype == "bfloat16"
