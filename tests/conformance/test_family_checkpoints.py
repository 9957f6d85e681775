"""RoBERTa and ALBERT against HF transformers, on every Keras 3 lane.

Tiny random `RobertaModel` and `AlbertModel` checkpoints with tokenizers
trained for them (byte-level BPE by `tokenizers`, a unigram SentencePiece
model by `sentencepiece`) were saved by transformers, with its ids and
outputs, by `python -m tests.conformance.make_family_references`. Here
kerastack's tokenizers must give the same ids and its backbones, loaded
from those folders, the same outputs; where transformers is installed (the
torch lane) the references are also recomputed live, and ALBERT's tokenizer
is compared with transformers' on a SentencePiece model trained in the test.
Outputs at padded positions are left out: neither model defines them.
"""

import importlib.util
import re
import unicodedata

import numpy as np
import pytest

from kerastack.bert import AlbertBackbone, AlbertTokenizer, RobertaBackbone, RobertaTokenizer
from tests.conformance import make_family_references as refs

HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None
NEEDS_TRANSFORMERS = pytest.mark.skipif(
    not HAS_TRANSFORMERS, reason="HF transformers (PyTorch) is installed in the torch lane only"
)
# Stated tolerance: float32 kerastack against float32 transformers (eager).
ATOL = 1e-5


def pairs():
    return [a for a, _ in refs.PAIRS], [b for _, b in refs.PAIRS]


def assert_outputs_match(outputs, sequence, pooled, mask):
    real = mask.astype(bool)
    np.testing.assert_allclose(outputs["sequence_output"][real], sequence[real], atol=ATOL, rtol=0)
    np.testing.assert_allclose(outputs["pooled_output"], pooled, atol=ATOL, rtol=0)


def test_roberta_tokenizer_gives_transformers_ids():
    reference = np.load(refs.ROBERTA_REFERENCE)
    tokenizer = RobertaTokenizer.from_folder(refs.ROBERTA_FOLDER)
    single = tokenizer.encode_batch(refs.TEXTS)
    np.testing.assert_array_equal(single["token_ids"], reference["ids"])
    np.testing.assert_array_equal(single["padding_mask"], reference["mask"])
    pair = tokenizer.encode_batch(*pairs())
    np.testing.assert_array_equal(pair["token_ids"], reference["pair_ids"])
    np.testing.assert_array_equal(pair["padding_mask"], reference["pair_mask"])
    # Byte-level BPE loses nothing: the pieces spell the text again (but for
    # the space before <mask>, which it takes, as RoBERTa's tokenizer does).
    for text in (t for t in refs.TEXTS if "<mask>" not in t):
        assert tokenizer.detokenize(tokenizer.token_ids(text)) == text


def test_roberta_matches_transformers():
    reference = np.load(refs.ROBERTA_REFERENCE)
    backbone = RobertaBackbone.from_pretrained(refs.ROBERTA_FOLDER)
    assert backbone.padding_id == 1 and backbone.max_sequence_length == 130
    for prefix in ("", "pair_"):
        ids, mask = reference[prefix + "ids"], reference[prefix + "mask"]
        outputs = backbone.predict({"token_ids": ids, "padding_mask": mask}, verbose=0)
        assert_outputs_match(
            outputs, reference[prefix + "sequence"], reference[prefix + "pooled"], mask
        )


def test_albert_tokenizer_gives_transformers_ids():
    reference = np.load(refs.ALBERT_REFERENCE)
    tokenizer = AlbertTokenizer.from_folder(refs.ALBERT_FOLDER)
    single = tokenizer.encode_batch(refs.TEXTS)
    np.testing.assert_array_equal(single["token_ids"], reference["ids"])
    np.testing.assert_array_equal(single["padding_mask"], reference["mask"])
    pair = tokenizer.encode_batch(*pairs())
    np.testing.assert_array_equal(pair["token_ids"], reference["pair_ids"])
    np.testing.assert_array_equal(pair["segment_ids"], reference["pair_segments"])


def test_albert_matches_transformers():
    reference = np.load(refs.ALBERT_REFERENCE)
    backbone = AlbertBackbone.from_pretrained(refs.ALBERT_FOLDER)
    # Four passes through two groups of two blocks: four distinct blocks.
    assert (backbone.num_layers, backbone.num_groups, backbone.layers_per_group) == (4, 2, 2)
    assert backbone.embedding_dim == 16 and backbone.hidden_dim == 32
    single = {
        "token_ids": reference["ids"],
        "segment_ids": np.zeros_like(reference["ids"]),
        "padding_mask": reference["mask"],
    }
    outputs = backbone.predict(single, verbose=0)
    assert_outputs_match(outputs, reference["sequence"], reference["pooled"], reference["mask"])
    pair = {
        "token_ids": reference["pair_ids"],
        "segment_ids": reference["pair_segments"],
        "padding_mask": reference["pair_mask"],
    }
    outputs = backbone.predict(pair, verbose=0)
    assert_outputs_match(
        outputs, reference["pair_sequence"], reference["pair_pooled"], reference["pair_mask"]
    )


@NEEDS_TRANSFORMERS
def test_references_are_what_transformers_gives():
    import transformers

    for folder, path, model_class, tokenizer in (
        (refs.ROBERTA_FOLDER, refs.ROBERTA_REFERENCE, "RobertaModel", refs.roberta_tokenizer),
        (refs.ALBERT_FOLDER, refs.ALBERT_REFERENCE, "AlbertModel", refs.albert_tokenizer),
    ):
        reference = np.load(path)
        ids = refs.reference_ids(tokenizer(folder))
        for name, value in ids.items():
            np.testing.assert_array_equal(value, reference[name])
        model = getattr(transformers, model_class).from_pretrained(
            folder, attn_implementation="eager"
        )
        segments = reference["pair_segments"] if "pair_segments" in reference else None
        sequence, pooled = refs.model_outputs(model.eval(), ids["ids"], ids["mask"])
        np.testing.assert_allclose(sequence, reference["sequence"], atol=ATOL)
        np.testing.assert_allclose(pooled, reference["pooled"], atol=ATOL)
        sequence, _ = refs.model_outputs(model, ids["pair_ids"], ids["pair_mask"], segments)
        np.testing.assert_allclose(sequence, reference["pair_sequence"], atol=ATOL)


def differs_in_transformers_5(text):
    """Texts on which transformers 5's AlbertTokenizer (a `tokenizers`
    conversion of the SentencePiece model) departs from Google's ALBERT,
    which kerastack follows: it does not cut digits ending in a comma again;
    it strips marks of category Mn that Google keeps (those of combining
    class 0, e.g. Devanagari vowel signs); and it decomposes Hangul before the
    model's own NFKC normalization instead of after, so syllables become
    jamo the vocabulary lacks (`<unk>`)."""
    return bool(
        re.search(r"\d,", text)
        or any(unicodedata.category(c) == "Mn" and not unicodedata.combining(c) for c in text)
        or any("\uac00" <= c <= "\ud7a3" for c in text)
    )


@NEEDS_TRANSFORMERS
def test_albert_tokenizer_matches_transformers_on_a_model_trained_here(tmp_path):
    import transformers

    from tests.conformance.corpus import corpus

    refs.train_sentencepiece(str(tmp_path / "spiece"), vocabulary_size=300)
    ours = AlbertTokenizer(tmp_path / "spiece.model")
    theirs = transformers.AlbertTokenizer.from_pretrained(str(tmp_path))
    texts = refs.TRAINING_TEXTS + refs.TEXTS + corpus()[:300]
    same = [text for text in texts if not differs_in_transformers_5(text)]
    assert len(same) > 280
    expected = theirs(same, add_special_tokens=False)["input_ids"]
    mismatched = [
        (text, ids, want)
        for text, ids, want in zip(same, (ours.token_ids(t) for t in same), expected, strict=True)
        if ids != want
    ]
    assert not mismatched, mismatched[:3]
    # Where they differ, kerastack keeps Google's pieces: Hangul syllables
    # are pieces of the model, not <unk>.
    korean = ours.token_ids("서울은 한국의 수도입니다.")
    assert ours.unk_id not in korean
    assert ours.unk_id in theirs("서울은 한국의 수도입니다.", add_special_tokens=False)["input_ids"]
