"""RoFormer and RoFormer-v2 against their references, on every Keras 3 lane.

- HF transformers: tiny random `RoFormerModel`, `RoFormerForMaskedLM`
  (embedding size != width, `rotary_value=True`) and the three task models,
  saved with their outputs by `python -m
  tests.conformance.make_roformer_references`; kerastack loads each folder
  and must give the recorded outputs within `RECORDED_TINY_ATOL`. Where
  transformers is installed (the torch lane) the recording is checked live,
  and kerastack's export (`save_hf_weights`) is loaded by transformers.
- bert4keras 0.11.5 (the real package, on tf-keras): a RoFormer-v2 and a
  RoFormer v1 with its MLM head, written as TensorFlow checkpoints by
  bert4keras (Zhuiyi's names) with its outputs on the same batch; kerastack
  reads those checkpoints with no TensorFlow.

Outputs at padded positions are left out: no model defines them.
"""

import importlib.util
import os

import numpy as np
import pytest

from kerastack.roformer import (
    RoFormerBackbone,
    RoFormerClassifier,
    RoFormerMaskedLM,
    RoFormerQuestionAnswerer,
    RoFormerTokenClassifier,
    RoFormerV2Backbone,
    save_hf_weights,
)
from tests.conformance import make_roformer_references as refs
from tests.tolerances import RECORDED_TINY_ATOL

HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None
NEEDS_TRANSFORMERS = pytest.mark.skipif(
    not HAS_TRANSFORMERS, reason="HF transformers (PyTorch) is installed in the torch lane only"
)
# folder -> (kerastack class, output keys)
MODELS = {
    "model": (RoFormerBackbone, ["sequence"]),
    "masked_lm": (RoFormerMaskedLM, ["logits"]),
    "classifier": (RoFormerClassifier, ["logits"]),
    "token_classifier": (RoFormerTokenClassifier, ["logits"]),
    "question_answerer": (RoFormerQuestionAnswerer, ["start_logits", "end_logits"]),
}
_OUTPUTS = {"sequence": "sequence_output"}


def batch(reference):
    return {name: reference[name] for name in ("token_ids", "segment_ids", "padding_mask")}


def assert_close(output, expected, mask, atol=RECORDED_TINY_ATOL):
    """Compare at real positions (per-token outputs) or whole (per-row)."""
    output, expected = np.asarray(output), np.asarray(expected)
    assert output.shape == expected.shape
    if output.ndim >= 2 and output.shape[:2] == mask.shape:
        output, expected = output[mask], expected[mask]
    np.testing.assert_allclose(output, expected, atol=atol, rtol=0)


def kerastack_outputs(model, inputs, keys):
    outputs = model.predict(inputs, verbose=0)
    if not isinstance(outputs, dict):
        outputs = {"logits": outputs}
    return {key: outputs[_OUTPUTS.get(key, key)] for key in keys}


@pytest.mark.parametrize("name", list(MODELS))
def test_hf_checkpoints_give_transformers_outputs(name):
    reference = np.load(refs.REFERENCE)
    model_class, keys = MODELS[name]
    model = model_class.from_pretrained(os.path.join(refs.FOLDER, name))
    mask = reference["padding_mask"].astype(bool)
    outputs = kerastack_outputs(model, batch(reference), keys)
    for key in keys:
        assert_close(outputs[key], reference[f"{name}/{key}"], mask)


def test_configs_are_read_as_written():
    masked_lm = RoFormerMaskedLM.from_pretrained(os.path.join(refs.FOLDER, "masked_lm"))
    backbone = masked_lm.backbone
    assert (backbone.embedding_dim, backbone.hidden_dim, backbone.num_heads) == (14, 20, 2)
    assert backbone.rotary_value is True and backbone.activation == "gelu_approximate"
    classifier = RoFormerClassifier.from_pretrained(os.path.join(refs.FOLDER, "classifier"))
    assert classifier.get_config()["num_classes"] == 3
    assert classifier.backbone.embedding_dim == classifier.backbone.hidden_dim == 12


def test_a_backbone_refuses_a_wrong_sinusoid_table(tmp_path):
    """HF's `encoder.embed_positions.weight` is checked, not ignored."""
    from kerastack.models import read_safetensors, write_checkpoint

    folder = os.path.join(refs.FOLDER, "model")
    tensors = read_safetensors(os.path.join(folder, "model.safetensors"))
    tensors["encoder.embed_positions.weight"] = tensors["encoder.embed_positions.weight"][:, ::-1]
    with open(os.path.join(folder, "config.json")) as file:
        write_checkpoint(
            tmp_path, {k: np.ascontiguousarray(v) for k, v in tensors.items()}, file.read()
        )
    with pytest.raises(ValueError, match="embed_positions.weight .* is not the sinusoidal table"):
        RoFormerBackbone.from_pretrained(tmp_path)


@NEEDS_TRANSFORMERS
def test_recording_is_what_transformers_gives():
    import transformers

    reference = np.load(refs.REFERENCE)
    np.testing.assert_array_equal(reference["token_ids"], refs.TOKEN_IDS)
    mask = refs.MASK.astype(bool)
    for name, (class_name, _) in refs.hf_models().items():
        model = getattr(transformers, class_name).from_pretrained(
            os.path.join(refs.FOLDER, name), attn_implementation="eager"
        )
        for key, value in refs.hf_outputs(model.eval()).items():
            assert_close(value, reference[f"{name}/{key}"], mask)


@NEEDS_TRANSFORMERS
@pytest.mark.parametrize("name", ["model", "masked_lm", "classifier", "question_answerer"])
def test_transformers_loads_the_export(name, tmp_path):
    """kerastack's export, loaded by transformers, gives the recorded
    outputs, and every tensor transformers expects is there."""
    import transformers

    reference = np.load(refs.REFERENCE)
    model_class, _ = MODELS[name]
    save_hf_weights(model_class.from_pretrained(os.path.join(refs.FOLDER, name)), tmp_path)
    class_name = refs.hf_models()[name][0]
    model, info = getattr(transformers, class_name).from_pretrained(
        tmp_path, attn_implementation="eager", output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    mask = refs.MASK.astype(bool)
    for key, value in refs.hf_outputs(model.eval()).items():
        assert_close(value, reference[f"{name}/{key}"], mask)


def test_roformer_v2_matches_bert4keras():
    reference = np.load(os.path.join(refs.V2_FOLDER, "reference.npz"))
    backbone = RoFormerV2Backbone.from_pretrained(refs.V2_FOLDER)
    assert (backbone.embedding_dim, backbone.hidden_dim, backbone.activation) == (8, 12, "relu")
    outputs = backbone.predict(batch(reference), verbose=0)
    mask = reference["padding_mask"].astype(bool)
    assert_close(outputs["sequence_output"], reference["sequence"], mask)


def test_zhuiyi_roformer_matches_bert4keras():
    """A RoFormer v1 TensorFlow checkpoint in Zhuiyi's names (its pooler and
    NSP head left out), backbone and MLM head."""
    reference = np.load(os.path.join(refs.ZHUIYI_FOLDER, "reference.npz"))
    mask = reference["padding_mask"].astype(bool)
    backbone = RoFormerBackbone.from_pretrained(refs.ZHUIYI_FOLDER)
    outputs = backbone.predict(batch(reference), verbose=0)
    assert_close(outputs["sequence_output"], reference["sequence"], mask)
    masked_lm = RoFormerMaskedLM.from_pretrained(refs.ZHUIYI_FOLDER)
    assert_close(masked_lm.predict(batch(reference), verbose=0), reference["mlm_logits"], mask)


def test_generic_from_pretrained_finds_the_roformer_entry_points():
    """`kerastack.models.from_pretrained` builds RoFormer's classes from the
    package's entry points (HF folders name `model_type`; Zhuiyi's
    `bert_config.json` has none, so it is named)."""
    from kerastack.models import from_pretrained, model_types

    assert model_types()["roformer"] == [
        "classification",
        "masked_lm",
        "question_answering",
        "token_classification",
    ]
    classifier = from_pretrained(os.path.join(refs.FOLDER, "classifier"), task="classification")
    assert type(classifier) is RoFormerClassifier
    masked_lm = from_pretrained(refs.ZHUIYI_FOLDER, "masked_lm", model_type="roformer")
    assert type(masked_lm) is RoFormerMaskedLM
