"""`save_hf_weights` for every encoder of kerastack-bert and its task models:
the folder loads back (every lane) and, where transformers is installed
(the torch lane), transformers' own class loads it, strictly, to the same
outputs."""

import importlib.util
import json
import os

import numpy as np
import pytest

from kerastack.bert import (
    AlbertBackbone,
    AlbertClassifier,
    AlbertMaskedLM,
    AlbertQuestionAnswerer,
    AlbertTokenClassifier,
    BertBackbone,
    BertClassifier,
    CamembertBackbone,
    RobertaBackbone,
    RobertaClassifier,
    RobertaMaskedLM,
    RobertaQuestionAnswerer,
    RobertaTokenClassifier,
    XLMRobertaBackbone,
    save_hf_weights,
)
from kerastack.core import keras
from tests.tolerances import RECORDED_TINY_ATOL

HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None
SIZES = dict(vocabulary_size=23, num_layers=2, num_heads=3, hidden_dim=12, intermediate_dim=20)
ROBERTA_IDS = np.array([[0, 5, 9, 22, 7, 2], [0, 11, 4, 2, 1, 1]])  # <s> ... </s> <pad>
ALBERT_IDS = np.array([[2, 5, 9, 3, 7, 3], [2, 11, 4, 3, 0, 0]])  # [CLS] ... [SEP] <pad>


def roberta(kind=RobertaBackbone):
    return kind(**SIZES, max_sequence_length=20, dropout=0.0)


def albert():
    return AlbertBackbone(**SIZES, embedding_dim=6, max_sequence_length=20)


def bert():
    return BertBackbone(**SIZES, max_sequence_length=20, dropout=0.0)


# name -> (model maker, family of its inputs)
MODELS = {
    "bert": (bert, "bert"),
    "bert_classifier": (lambda: BertClassifier(bert(), num_classes=3), "bert"),
    "roberta": (roberta, "roberta"),
    "xlm_roberta": (lambda: roberta(XLMRobertaBackbone), "roberta"),
    "camembert": (lambda: roberta(CamembertBackbone), "roberta"),
    "roberta_classifier": (lambda: RobertaClassifier(roberta(), num_classes=3), "roberta"),
    "xlmr_classifier": (
        lambda: RobertaClassifier(roberta(XLMRobertaBackbone), num_classes=2),
        "roberta",
    ),
    "roberta_tagger": (lambda: RobertaTokenClassifier(roberta(), num_classes=4), "roberta"),
    "roberta_qa": (lambda: RobertaQuestionAnswerer(roberta()), "roberta"),
    "roberta_mlm": (lambda: RobertaMaskedLM(roberta()), "roberta"),
    "camembert_mlm": (lambda: RobertaMaskedLM(roberta(CamembertBackbone)), "roberta"),
    "albert": (albert, "albert"),
    "albert_classifier": (lambda: AlbertClassifier(albert(), num_classes=3), "albert"),
    "albert_tagger": (lambda: AlbertTokenClassifier(albert(), num_classes=4), "albert"),
    "albert_qa": (lambda: AlbertQuestionAnswerer(albert()), "albert"),
    "albert_mlm": (lambda: AlbertMaskedLM(albert()), "albert"),
}


def randomized(model):
    """Every weight random (heads' biases and norms are constants at first)."""
    rng = np.random.default_rng(0)
    model.set_weights(
        [0.3 * rng.standard_normal(w.shape).astype("float32") for w in model.get_weights()]
    )
    return model


def inputs_of(family):
    if family == "roberta":
        return {"token_ids": ROBERTA_IDS, "padding_mask": (ROBERTA_IDS != 1).astype("int32")}
    ids = ALBERT_IDS
    segments = np.array([[0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0]])
    return {"token_ids": ids, "segment_ids": segments, "padding_mask": (ids != 0).astype("int32")}


def outputs_of(model, inputs):
    outputs = model(inputs)
    if isinstance(outputs, dict):
        return {k: keras.ops.convert_to_numpy(v) for k, v in sorted(outputs.items())}
    return {"logits": keras.ops.convert_to_numpy(outputs)}


def task_arguments(model):
    return {k: v for k, v in getattr(model, "_arguments", {}).items() if k == "num_classes"}


# One model of each kind (the writing code is shared; transformers checks
# all of them below).
ROUND_TRIPS = ["bert_classifier", "xlm_roberta", "camembert_mlm", "roberta_qa", "albert_tagger"]


@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_exported_folder_loads_back(name, tmp_path):
    make, family = MODELS[name]
    model = randomized(make())
    save_hf_weights(model, str(tmp_path))
    config = json.loads((tmp_path / "config.json").read_text())
    backbone = getattr(model, "backbone", model)
    assert config["model_type"] == backbone.hf_model_type
    reloaded = type(model).from_pretrained(str(tmp_path), **task_arguments(model))
    assert type(getattr(reloaded, "backbone", reloaded)) is type(backbone)
    # Every weight HF's model has (task models without a pooler leave it out).
    for (ours, name, _), (theirs, other, _) in zip(
        model.hf_weight_table(), reloaded.hf_weight_table(), strict=True
    ):
        assert name == other
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs)
        )


def test_only_this_package_s_encoders_are_written(tmp_path):
    inputs = keras.Input((3,))
    with pytest.raises(TypeError, match="kerastack-bert"):
        save_hf_weights(keras.Model(inputs, keras.layers.Dense(2)(inputs)), str(tmp_path))
    assert not os.listdir(tmp_path)


@pytest.mark.skipif(not HAS_TRANSFORMERS, reason="transformers is installed in the torch lane only")
@pytest.mark.parametrize("name", sorted(MODELS))
def test_transformers_loads_the_export_to_the_same_outputs(name, tmp_path):
    import torch
    import transformers

    make, family = MODELS[name]
    model = randomized(make())
    save_hf_weights(model, str(tmp_path))
    config = json.loads((tmp_path / "config.json").read_text())
    hf_class = getattr(transformers, config["architectures"][0])
    theirs, info = hf_class.from_pretrained(
        str(tmp_path), attn_implementation="eager", output_loading_info=True
    )
    pooler = [] if getattr(model, "backbone", None) is None else ["pooler"]
    assert not info["missing_keys"] and not info["mismatched_keys"], info
    assert not [k for k in info["unexpected_keys"] if not any(p in k for p in pooler)], info
    inputs = inputs_of(family)
    hf_inputs = {
        "input_ids": torch.tensor(inputs["token_ids"]),
        "attention_mask": torch.tensor(inputs["padding_mask"]),
    }
    if "segment_ids" in inputs:
        hf_inputs["token_type_ids"] = torch.tensor(inputs["segment_ids"])
    with torch.no_grad():
        reference = theirs.eval()(**hf_inputs)
    ours = outputs_of(model, inputs)
    real = inputs["padding_mask"].astype(bool)
    if "sequence_output" in ours:
        np.testing.assert_allclose(
            ours["sequence_output"][real],
            reference.last_hidden_state.numpy()[real],
            atol=RECORDED_TINY_ATOL,
        )
        np.testing.assert_allclose(
            ours["pooled_output"], reference.pooler_output.numpy(), atol=RECORDED_TINY_ATOL
        )
        return
    for key, value in ours.items():
        expected = getattr(reference, key).numpy()
        if value.ndim >= 2 and value.shape[:2] == real.shape:
            value, expected = value[real], expected[real]
        np.testing.assert_allclose(value, expected, atol=RECORDED_TINY_ATOL)
