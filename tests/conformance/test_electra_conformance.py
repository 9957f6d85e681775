"""ELECTRA against HF transformers, on every Keras 3 lane.

Tiny random checkpoints (a discriminator whose embeddings, 10 wide, are
projected to its 12-wide blocks; a generator sharing those embeddings; the
three fine-tuning task models) were saved by transformers with their
outputs on two padded batches, by `python -m
tests.conformance.make_electra_references`; the same weights were written
as one Google-format TF checkpoint (both networks) by its `google` mode in
the tensorflow lane. Here kerastack's models, loaded from those folders,
must give the same outputs; where transformers is installed (the torch
lane) the references are recomputed live, and models exported by
`save_electra_weights` are loaded back by transformers. Outputs at padded
positions are left out: neither side defines them.
"""

import importlib.util
import os

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from kerastack.electra import (
    ElectraBackbone,
    ElectraClassifier,
    ElectraDiscriminator,
    ElectraMaskedLM,
    ElectraQuestionAnswerer,
    ElectraTokenClassifier,
    load_google_checkpoint,
    save_electra_weights,
)
from kerastack.models import from_pretrained
from tests.conformance import make_electra_references as refs
from tests.tolerances import RECORDED_TINY_ATOL

HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None
NEEDS_TRANSFORMERS = pytest.mark.skipif(
    not HAS_TRANSFORMERS, reason="HF transformers (PyTorch) is installed in the torch lane only"
)
# The MLM logits reach about 3.5, the others about 2.5: within the tiny
# models' stated bound (tests/tolerances.py).
ATOL = RECORDED_TINY_ATOL

# (fixture folder, kerastack class, {output key: reference name}).
MODELS = (
    ("discriminator", ElectraDiscriminator, {None: "rtd_logits"}),
    ("generator", ElectraMaskedLM, {None: "mlm_logits"}),
    ("classifier", ElectraClassifier, {None: "class_logits"}),
    ("token_classifier", ElectraTokenClassifier, {None: "token_logits"}),
    (
        "question_answerer",
        ElectraQuestionAnswerer,
        {"start_logits": "start_logits", "end_logits": "end_logits"},
    ),
)


@pytest.fixture(scope="module")
def reference():
    return dict(np.load(refs.REFERENCE))


def inputs(reference, batch):
    ids = reference[f"{batch}_ids"]
    return {
        "token_ids": ids,
        "segment_ids": reference[f"{batch}_segments"],
        "padding_mask": (ids != 0).astype("int32"),
    }


def assert_close(ours, theirs, mask):
    """Equal within ATOL at real tokens (all of a row's logits for (B, K))."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape
    if ours.ndim >= 2 and ours.shape[:2] == mask.shape:
        ours, theirs = ours[mask.astype(bool)], theirs[mask.astype(bool)]
    np.testing.assert_allclose(ours, theirs, atol=ATOL, rtol=0)


def check_model(model, outputs, reference, prefix=""):
    """`model`'s outputs on both batches against the reference's."""
    for batch in ("a", "b"):
        batch_inputs = inputs(reference, batch)
        predicted = model.predict(batch_inputs, verbose=0)
        for key, name in outputs.items():
            ours = predicted if key is None else predicted[key]
            assert_close(ours, reference[f"{batch}_{name}"], batch_inputs["padding_mask"])


@pytest.mark.parametrize("name, model_class, outputs", MODELS, ids=[m[0] for m in MODELS])
def test_task_models_match_transformers(reference, name, model_class, outputs):
    model = model_class.from_pretrained(refs.folder(name))
    check_model(model, outputs, reference)


# HF's tasks (kerastack.models.TASKS) of each fixture folder.
TASK_NAMES = {
    "discriminator": "replaced_token_detection",
    "generator": "masked_lm",
    "classifier": "classification",
    "token_classifier": "token_classification",
    "question_answerer": "question_answering",
}


def test_the_generic_entry_point_builds_each_model(reference):
    for name, model_class, _ in MODELS:
        model = from_pretrained(refs.folder(name), task=TASK_NAMES[name])
        assert type(model) is model_class
    assert type(from_pretrained(refs.folder("discriminator"))) is ElectraBackbone
    # The labels' count comes from config.json (three classes in the fixture).
    classifier = from_pretrained(refs.folder("classifier"), task="classification")
    assert classifier.get_config()["num_classes"] == 3
    check_model(classifier, {None: "class_logits"}, reference)


def test_backbones_match_transformers(reference):
    discriminator = ElectraBackbone.from_pretrained(refs.folder("discriminator"))
    generator = ElectraBackbone.from_pretrained(refs.folder("generator"))
    assert (discriminator.embedding_dim, discriminator.hidden_dim) == (10, 12)
    assert (generator.embedding_dim, generator.hidden_dim, generator.num_heads) == (10, 6, 2)
    assert generator.activation == "gelu_approximate"  # HF's gelu_new
    for batch in ("a", "b"):
        batch_inputs = inputs(reference, batch)
        mask = batch_inputs["padding_mask"]
        for backbone, name in ((discriminator, "sequence"), (generator, "generator_sequence")):
            outputs = backbone.predict(batch_inputs, verbose=0)
            assert_close(outputs["sequence_output"], reference[f"{batch}_{name}"], mask)


def test_google_checkpoint_gives_the_same_outputs(reference):
    # The discriminator, with the config.json beside the TF checkpoint.
    discriminator = ElectraDiscriminator.from_pretrained(refs.GOOGLE_FOLDER)
    check_model(discriminator, {None: "rtd_logits"}, reference)
    # The generator from the same checkpoint, shaped by its own config.
    generator = ElectraMaskedLM.from_config_file(refs.folder("generator"))
    left_out = load_google_checkpoint(generator, refs.GOOGLE_FOLDER)
    # The discriminator's body and head are the other network's.
    assert "discriminator_predictions/dense_1/kernel" in left_out
    assert "electra/encoder/layer_1/output/dense/kernel" in left_out
    assert not any(name.startswith(("generator", "electra/embeddings/")) for name in left_out)
    check_model(generator, {None: "mlm_logits"}, reference)


def test_loading_is_strict(tmp_path):
    # A discriminator checkpoint holds no classifier: an error naming it.
    with pytest.raises(ValueError, match=r"missing tensors: classifier\.dense\.bias"):
        ElectraClassifier.from_pretrained(refs.folder("discriminator"))
    # transformers saved the tied generator without an output matrix: an
    # untied generator lacks it.
    generator = ElectraMaskedLM.from_config_file(refs.folder("generator"), tie_weights=False)
    with pytest.raises(ValueError, match=r"missing tensors: generator_lm_head\.weight"):
        generator.load_checkpoint(refs.folder("generator"))
    # A tied generator takes an output matrix only when it is the word table.
    tensors = load_file(os.path.join(refs.folder("generator"), "model.safetensors"))
    table = tensors["electra.embeddings.word_embeddings.weight"]
    tied = ElectraMaskedLM.from_config_file(refs.folder("generator"))
    before = [w.copy() for w in tied.get_weights()]
    for matrix, error in ((table, None), (table + 1.0, "not its word table")):
        folder = tmp_path / ("same" if error is None else "other")
        folder.mkdir()
        save_file({**tensors, "generator_lm_head.weight": matrix}, folder / "model.safetensors")
        if error is None:
            assert tied.load_checkpoint(str(folder)) == []
        else:
            tied.set_weights(before)
            with pytest.raises(ValueError, match=error):
                tied.load_checkpoint(str(folder))
            assert all(
                np.array_equal(a, b) for a, b in zip(before, tied.get_weights(), strict=True)
            )


@NEEDS_TRANSFORMERS
def test_references_are_what_transformers_gives(reference):
    live = refs.record(refs.load_models())
    assert sorted(live) == sorted(reference)
    for name, value in live.items():
        np.testing.assert_allclose(value, reference[name], atol=ATOL, rtol=0, err_msg=name)


@NEEDS_TRANSFORMERS
@pytest.mark.parametrize("name, model_class, outputs", MODELS, ids=[m[0] for m in MODELS])
def test_transformers_loads_the_export(tmp_path, reference, name, model_class, outputs):
    import torch
    import transformers

    model = model_class.from_pretrained(refs.folder(name))
    save_electra_weights(model, str(tmp_path))
    architecture = transformers.AutoConfig.from_pretrained(str(tmp_path)).architectures[0]
    theirs, info = getattr(transformers, architecture).from_pretrained(
        str(tmp_path), attn_implementation="eager", output_loading_info=True
    )
    problems = {key: value for key, value in info.items() if value and key != "error_msgs"}
    assert not problems, problems
    theirs.eval()
    for batch in ("a", "b"):
        with torch.no_grad():
            result = theirs(**refs.torch_inputs(batch))
        mask = inputs(reference, batch)["padding_mask"]
        for key, reference_name in outputs.items():
            value = result.logits if key is None else getattr(result, key)
            assert_close(value.numpy(), reference[f"{batch}_{reference_name}"], mask)
