"""XLM-RoBERTa, CamemBERT and the RoBERTa / ALBERT task models against HF
transformers, on every Keras 3 lane.

The fixtures were written by transformers
(`python -m tests.conformance.make_xlmr_references`): tiny random
`XLMRobertaModel` and `CamembertModel` checkpoints with SentencePiece models
trained for them, tiny random task models, and their ids and outputs. Here
kerastack's tokenizers must give the same ids and its models, loaded from
those folders, the same outputs (real positions; padding is undefined);
where transformers is installed (the torch lane) the recordings are checked
against transformers live, and the tokenizers are compared with
transformers' on a SentencePiece model trained here with XLM-R's own
normalization (nmt_nfkc) over the conformance corpus.
"""

import importlib.util
import os

import numpy as np
import pytest

from kerastack.bert import (
    AlbertClassifier,
    AlbertMaskedLM,
    AlbertQuestionAnswerer,
    AlbertTokenClassifier,
    CamembertBackbone,
    RobertaClassifier,
    RobertaMaskedLM,
    RobertaQuestionAnswerer,
    RobertaTokenClassifier,
    XLMRobertaBackbone,
)
from kerastack.tokenizers import CamembertTokenizer, XLMRobertaTokenizer
from tests.conformance import make_xlmr_references as refs
from tests.tolerances import RECORDED_TINY_ATOL

HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None
NEEDS_TRANSFORMERS = pytest.mark.skipif(
    not HAS_TRANSFORMERS, reason="HF transformers (PyTorch) is installed in the torch lane only"
)
ENCODERS = [
    (XLMRobertaBackbone, XLMRobertaTokenizer, refs.XLMR_FOLDER, refs.XLMR_REFERENCE),
    (CamembertBackbone, CamembertTokenizer, refs.CAMEMBERT_FOLDER, refs.CAMEMBERT_REFERENCE),
]
ROBERTA_TASKS = {
    "classification": RobertaClassifier,
    "token_classification": RobertaTokenClassifier,
    "question_answering": RobertaQuestionAnswerer,
    "masked_lm": RobertaMaskedLM,
    "xlmr_classification": RobertaClassifier,
    "camembert_masked_lm": RobertaMaskedLM,
}
ALBERT_TASKS = {
    "classification": AlbertClassifier,
    "token_classification": AlbertTokenClassifier,
    "question_answering": AlbertQuestionAnswerer,
    "masked_lm": AlbertMaskedLM,
}


def close(ours, theirs, mask=None):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    if mask is not None:
        real = mask.astype(bool)
        ours, theirs = ours[real], theirs[real]
    np.testing.assert_allclose(ours, theirs, atol=RECORDED_TINY_ATOL, rtol=0)


@pytest.mark.parametrize("backbone_class, tokenizer_class, folder, path", ENCODERS)
def test_tokenizer_gives_transformers_ids(backbone_class, tokenizer_class, folder, path):
    reference = np.load(path)
    tokenizer = tokenizer_class.from_folder(folder)
    single = tokenizer.encode_batch(refs.TEXTS)
    np.testing.assert_array_equal(single["token_ids"], reference["ids"])
    np.testing.assert_array_equal(single["padding_mask"], reference["mask"])
    pair = tokenizer.encode_batch([a for a, _ in refs.PAIRS], [b for _, b in refs.PAIRS])
    np.testing.assert_array_equal(pair["token_ids"], reference["pair_ids"])
    np.testing.assert_array_equal(pair["padding_mask"], reference["pair_mask"])


@pytest.mark.parametrize("backbone_class, tokenizer_class, folder, path", ENCODERS)
def test_encoder_matches_transformers(backbone_class, tokenizer_class, folder, path):
    reference = np.load(path)
    backbone = backbone_class.from_pretrained(folder)
    assert type(backbone) is backbone_class
    assert (backbone.hidden_dim, backbone.num_heads, backbone.num_layers) == (20, 2, 3)
    for prefix, ids in (("", "output_"), ("pair_", "pair_")):
        mask = reference[ids + "mask"]
        outputs = backbone.predict(
            {"token_ids": reference[ids + "ids"], "padding_mask": mask}, verbose=0
        )
        close(outputs["sequence_output"], reference[prefix + "sequence"], mask)
        close(outputs["pooled_output"], reference[prefix + "pooled"])


def head_inputs(reference, albert):
    inputs = {"token_ids": reference["ids"], "padding_mask": reference["mask"]}
    if albert:
        inputs["segment_ids"] = reference["segments"]
    return inputs


@pytest.mark.parametrize(
    "folder, task, model_class",
    [(refs.ROBERTA_HEADS, task, cls) for task, cls in ROBERTA_TASKS.items()]
    + [(refs.ALBERT_HEADS, task, cls) for task, cls in ALBERT_TASKS.items()],
)
def test_task_model_matches_transformers(folder, task, model_class):
    reference = np.load(os.path.join(folder, "reference.npz"))
    albert = folder == refs.ALBERT_HEADS
    kwargs = {} if "question" in task or "masked" in task else {"num_classes": refs.NUM_CLASSES}
    model = model_class.from_pretrained(os.path.join(folder, task), **kwargs)
    outputs = model.predict(head_inputs(reference, albert), verbose=0)
    mask = reference["mask"]
    if isinstance(outputs, dict):
        for name in ("start_logits", "end_logits"):
            close(outputs[name], reference[f"{task}.{name}"], mask)
    elif "classification" in task and "token" not in task:
        close(outputs, reference[f"{task}.logits"])
    else:
        close(outputs, reference[f"{task}.logits"], mask)


def test_task_checkpoints_load_strictly():
    # A token classifier's checkpoint holds no masked-LM head, and a
    # backbone-only checkpoint no classifier: each is refused, naming them.
    folder = os.path.join(refs.ROBERTA_HEADS, "token_classification")
    with pytest.raises(ValueError, match="lm_head.dense.weight"):
        RobertaMaskedLM.from_pretrained(folder)
    with pytest.raises(ValueError, match="classifier.dense.weight"):
        RobertaClassifier.from_pretrained(refs.XLMR_FOLDER, num_classes=3)
    with pytest.raises(ValueError, match="model_type='albert'"):
        RobertaClassifier.from_pretrained(os.path.join(refs.ALBERT_HEADS, "classification"))


@NEEDS_TRANSFORMERS
def test_recordings_are_what_transformers_gives():
    import transformers

    for folder, path, model_class in (
        (refs.XLMR_FOLDER, refs.XLMR_REFERENCE, "XLMRobertaModel"),
        (refs.CAMEMBERT_FOLDER, refs.CAMEMBERT_REFERENCE, "CamembertModel"),
    ):
        reference = np.load(path)
        ids = refs.reference_ids(refs.tokenizer(folder))
        for name, value in ids.items():
            np.testing.assert_array_equal(value, reference[name])
        model = getattr(transformers, model_class).from_pretrained(
            folder, attn_implementation="eager"
        )
        sequence, pooled = refs.encoder_outputs(model.eval(), ids["output_ids"], ids["output_mask"])
        close(sequence, reference["sequence"])
        close(pooled, reference["pooled"])
    for folder, tasks in (
        (refs.ROBERTA_HEADS, refs.ROBERTA_TASKS),
        (refs.ALBERT_HEADS, refs.ALBERT_TASKS),
    ):
        reference = np.load(os.path.join(folder, "reference.npz"))
        albert = folder == refs.ALBERT_HEADS
        for task, model_class, _ in tasks:
            model = getattr(transformers, model_class).from_pretrained(
                os.path.join(folder, task), attn_implementation="eager"
            )
            outputs = refs.head_outputs(
                model.eval(),
                reference["ids"],
                reference["mask"],
                reference["segments"] if albert else None,
            )
            for name, value in outputs.items():
                close(value, reference[f"{task}.{name}"])


@NEEDS_TRANSFORMERS
@pytest.mark.parametrize(
    "ours, theirs",
    [(XLMRobertaTokenizer, "XLMRobertaTokenizer"), (CamembertTokenizer, "CamembertTokenizer")],
)
def test_tokenizer_matches_transformers_on_the_corpus(tmp_path, ours, theirs):
    import transformers

    from tests.conformance.corpus import corpus

    refs.train_sentencepiece(
        str(tmp_path / "sentencepiece.bpe"), vocabulary_size=300, normalization="nmt_nfkc"
    )
    mine = ours.from_folder(tmp_path)
    reference = getattr(transformers, theirs).from_pretrained(str(tmp_path))
    assert mine.vocabulary_size == len(reference)
    assert (mine.start_id, mine.end_id, mine.pad_id, mine.mask_id) == (
        reference.bos_token_id,
        reference.eos_token_id,
        reference.pad_token_id,
        reference.mask_token_id,
    )
    # SentencePiece's own word mark written in the text, which transformers
    # reads as the start of a word.
    marks = ["\u2581", "\u2581hello", "x\u2581", "\u2581\u2581a", "a \u2581 b", "one\u2581two"]
    texts = refs.TRAINING_TEXTS + refs.TEXTS + marks + corpus()[:400]
    expected = reference(texts, add_special_tokens=False)["input_ids"]
    mismatched = [
        (text, ids, want)
        for text, ids, want in zip(texts, (mine.token_ids(t) for t in texts), expected, strict=True)
        if ids != want
    ]
    assert not mismatched, mismatched[:3]
    pairs = reference(texts[:20], texts[20:40], padding=True, return_tensors="np")
    encoded = mine.encode_batch(texts[:20], texts[20:40])
    np.testing.assert_array_equal(encoded["token_ids"], pairs["input_ids"])
    for row in pairs["input_ids"][:5].tolist():
        assert mine.detokenize(row) == reference.decode(row)
        assert mine.detokenize(row, skip_special_tokens=True) == reference.decode(
            row, skip_special_tokens=True
        )
