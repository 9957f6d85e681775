"""kerastack-bert's task models against HF transformers' task models: tiny
random checkpoints saved by transformers (BertForPreTraining, ...ForSequence-
Classification, ...ForTokenClassification, ...ForQuestionAnswering), loaded
strictly, on every Keras 3 lane. The tiny inputs have no padding in the
compared positions' rows except where stated by their mask."""

import importlib.util
import os

import numpy as np
import pytest

from kerastack.bert import (
    BertClassifier,
    BertPretrainer,
    BertQuestionAnswerer,
    BertTokenClassifier,
)
from tests.conformance import make_references as refs
from tests.tolerances import RECORDED_TINY_ATOL

ATOL = 1e-5
MODELS = {
    "tiny_pretraining": (BertPretrainer, {}),
    "tiny_classifier": (BertClassifier, {"num_classes": 3}),
    "tiny_token_classifier": (BertTokenClassifier, {"num_classes": 4}),
    "tiny_question_answerer": (BertQuestionAnswerer, {}),
}


def outputs_of(name):
    cls, kwargs = MODELS[name]
    model = cls.from_pretrained(os.path.join(refs.FIXTURES, name), **kwargs)
    ids, segments, mask, first, second = refs.load_reference(
        os.path.join(refs.FIXTURES, name + "_reference.npz")
    )
    data = {"token_ids": ids, "segment_ids": segments, "padding_mask": mask}
    if cls is BertPretrainer:
        data["mask_positions"] = np.array(refs.MASK_POSITIONS, dtype="int32")
    outputs = model.predict(data, batch_size=len(ids), verbose=0)
    return outputs, (first, second), mask.astype(bool)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_task_model_matches_transformers(name):
    outputs, (first, second), real = outputs_of(name)
    if name == "tiny_pretraining":
        np.testing.assert_allclose(outputs["mlm_logits"], first, atol=ATOL, rtol=0)
        np.testing.assert_allclose(outputs["nsp_logits"], second, atol=ATOL, rtol=0)
        assert outputs["mlm_logits"].dtype == np.float32
    elif name == "tiny_question_answerer":
        np.testing.assert_allclose(outputs["start_logits"][real], first[real], atol=ATOL, rtol=0)
        np.testing.assert_allclose(outputs["end_logits"][real], second[real], atol=ATOL, rtol=0)
    elif name == "tiny_token_classifier":
        np.testing.assert_allclose(outputs[real], first[real], atol=ATOL, rtol=0)
    else:
        np.testing.assert_allclose(outputs, first, atol=ATOL, rtol=0)


@pytest.mark.skipif(
    importlib.util.find_spec("transformers") is None,
    reason="HF transformers (PyTorch) is installed in the torch lane only",
)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_task_references_are_what_transformers_gives(name):
    import transformers

    class_name, _ = refs.TASKS[name]
    task = (
        getattr(transformers, class_name)
        .from_pretrained(os.path.join(refs.FIXTURES, name), attn_implementation="eager")
        .eval()
    )
    stored = refs.load_reference(os.path.join(refs.FIXTURES, name + "_reference.npz"))
    for live, recorded in zip(refs.task_outputs(task), stored, strict=True):
        np.testing.assert_allclose(live, recorded, atol=RECORDED_TINY_ATOL, rtol=0)
