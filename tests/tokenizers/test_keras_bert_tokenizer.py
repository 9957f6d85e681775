"""kerastack.tokenizers.compat.Tokenizer against what the real keras-bert
0.89 gave on the recorded corpus (tests/conformance/
make_keras_bert_tokenizer.py): the same pieces, ids, pair encodings,
decodings and rematch spans, cased and uncased."""

import pytest

from kerastack.tokenizers import compat
from tests.conformance import make_keras_bert_tokenizer as references

RECORDED = references.load()


@pytest.fixture(scope="module")
def computed():
    return references.record(compat.Tokenizer, RECORDED["texts"])


@pytest.mark.parametrize("setting", ["uncased", "cased"])
@pytest.mark.parametrize("call", ["tokenize", "encode", "pairs", "rematch"])
def test_equals_keras_bert(computed, setting, call):
    ours, theirs = computed[setting][call], RECORDED["results"][setting][call]
    assert len(ours) == len(theirs)
    different = [index for index, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b]
    assert not different, (
        f"{len(different)} of {len(theirs)} differ; the first, text "
        f"{RECORDED['texts'][different[0] if call != 'pairs' else theirs[different[0]][0]]!r}: "
        f"ours {ours[different[0]]!r}, keras-bert's {theirs[different[0]]!r}"
    )


def test_unknown_words_split_as_keras_bert_split_them():
    """A word the vocabulary does not spell: known pieces where they start,
    single characters elsewhere, and only those map to [UNK]."""
    token_dict = compat.get_base_dict()
    for token in ["play", "##ing", "##s"]:
        token_dict[token] = len(token_dict)
    tokenizer = compat.Tokenizer(token_dict)
    assert tokenizer.tokenize("playings xq")[1:-1] == ["play", "##ing", "##s", "x", "##q"]
    assert tokenizer.encode("playings xq")[0] == [2, 5, 6, 7, 1, 1, 3]


def test_errors_are_also_the_classes_keras_bert_raised():
    tokenizer = compat.Tokenizer({"[CLS]": 0, "[SEP]": 1, "[UNK]": 2, "a": 3})
    with pytest.raises(IndexError, match="max_len=2 leaves no room"):
        tokenizer.encode("a", "a", max_len=2)
    with pytest.raises(KeyError):
        tokenizer.decode([0, 3, 1, 99])
    with pytest.raises(ValueError, match="not in the dictionary"):
        tokenizer.decode([0, 3, 1, 99])
    with pytest.raises(ValueError, match=r"\[SEP\]"):
        tokenizer.decode([0, 3])
