"""BertTokenizer's rules on a small hand-made vocabulary (every Keras 3 lane).
tests/conformance/ checks it against transformers' slow tokenizer on a corpus."""

import numpy as np
import pytest

from kerastack.bert import BertTokenizer, read_vocabulary
from kerastack.tokenizers.bert_tokenizer import is_plain, plain_runs, truncated_lengths

TOKENS = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "un", "##aff", "##able", "hello", "world", ",", "!", "'", "t", "don",
    "cafe", "creme", "東", "京", "the", "a", "##b", "Hello", "##s",
]  # fmt: skip


@pytest.fixture
def uncased():
    return BertTokenizer(TOKENS, lowercase=True)


def test_pieces_punctuation_and_unknown_words(uncased):
    assert uncased.tokenize("unaffable") == ["un", "##aff", "##able"]
    assert uncased.tokenize("Hello, World!") == ["hello", ",", "world", "!"]
    assert uncased.tokenize("don't") == ["don", "'", "t"]
    assert uncased.tokenize("unknowable") == ["[UNK]"]  # no pieces spell it
    assert uncased.tokenize("ab" * 60) == ["[UNK]"]  # longer than 100 characters
    assert uncased.tokenize("abbb") == ["a", "##b", "##b", "##b"]


def test_lowercasing_accents_cjk_and_control_characters(uncased):
    assert uncased.tokenize("CAFÉ Crème") == ["cafe", "creme"]
    assert uncased.tokenize("東京") == ["東", "京"]  # CJK characters split apart
    # Control and format characters are dropped, not taken as spaces.
    assert uncased.tokenize("hel\u0000lo\u0007 world\u200b") == ["hello", "world"]
    assert uncased.tokenize(" \t\n ") == []


def test_cased_keeps_case_and_accents():
    cased = BertTokenizer(TOKENS, lowercase=False)
    assert cased.tokenize("Hello hello") == ["Hello", "hello"]
    assert cased.tokenize("café") == ["[UNK]"]  # accents kept: not in the vocabulary
    assert cased.strip_accents is False


def test_texts_with_plain_and_other_lines(uncased):
    # ASCII lines take the plain-text engine, the others the full one.
    text = "Hello\r\nCAFÉ world\n\n東京 hello\x07\n[MASK] unaffable\n\u0301hello"
    runs = plain_runs(text)
    assert "".join(run for _, run in runs) == text
    assert [plain for plain, _ in runs] == [True, False, True, False, True, False]
    assert all(is_plain(run) for plain, run in runs if plain)
    pieces = ["hello", "cafe", "world", "東", "京", "hello", "[MASK]", "un", "##aff", "##able"]
    assert uncased.tokenize(text) == pieces + ["hello"]
    assert uncased.tokenize_batch([text, "hello"]) == [pieces + ["hello"], ["hello"]]
    assert uncased.token_ids(text) == [uncased.vocabulary[piece] for piece in pieces + ["hello"]]


def test_truncation_as_googles_loop():
    for first in range(8):
        for second in range(8):
            for budget in range(1, 14):
                a, b = list(range(first)), list(range(second))
                while len(a) + len(b) > budget:  # _truncate_seq_pair
                    (a if len(a) > len(b) else b).pop()
                assert truncated_lengths(first, second, budget) == (len(a), len(b))


def test_special_tokens_in_text_stay_whole(uncased):
    assert uncased.tokenize("hello [MASK] world [SEP]") == [
        "hello", "[MASK]", "world", "[SEP]",
    ]  # fmt: skip
    assert uncased.tokenize("[mask]") == ["[UNK]", "[UNK]", "[UNK]"]  # "[", "mask", "]"


def test_offsets_point_into_the_text(uncased):
    text = "Hello, unaffable world"
    pieces = uncased.tokenize(text)
    offsets = uncased.offsets(text)
    assert len(offsets) == len(pieces)
    assert [text[a:b].lower() for a, b in offsets] == ["hello", ",", "un", "aff", "able", "world"]


def test_encode_pair_truncates_longest_first_and_pads(uncased):
    encoded = uncased.encode("hello world hello world", "the a", max_length=9)
    ids = encoded["token_ids"]
    # 9 = [CLS] + 4 first + [SEP] + 2 second + [SEP]: nothing cut yet.
    assert uncased.ids_to_tokens(ids) == [
        "[CLS]", "hello", "world", "hello", "world", "[SEP]", "the", "a", "[SEP]",
    ]  # fmt: skip
    encoded = uncased.encode("hello world hello world", "the a", max_length=7)
    assert uncased.ids_to_tokens(encoded["token_ids"]) == [
        "[CLS]", "hello", "world", "[SEP]", "the", "a", "[SEP]",
    ]  # fmt: skip
    np.testing.assert_array_equal(encoded["segment_ids"], [0, 0, 0, 0, 1, 1, 1])
    encoded = uncased.encode("hello", max_length=5)
    np.testing.assert_array_equal(encoded["token_ids"], [2, 8, 3, 0, 0])
    np.testing.assert_array_equal(encoded["padding_mask"], [1, 1, 1, 0, 0])
    assert encoded["token_ids"].dtype == np.int32


def test_encode_batch_pads_to_the_longest(uncased):
    batch = uncased.encode_batch(["hello", "hello world !"])
    assert batch["token_ids"].shape == (2, 5)
    np.testing.assert_array_equal(batch["padding_mask"].sum(1), [3, 5])


def test_errors(uncased, tmp_path):
    with pytest.raises(ValueError, match=r"lacks the special tokens \['\[MASK\]'\]"):
        BertTokenizer(TOKENS[:4] + TOKENS[5:])
    with pytest.raises(ValueError, match="`text` must be a str, received bytes"):
        uncased.tokenize(b"bytes")
    with pytest.raises(ValueError, match="`firsts` must be a list of str, received one str"):
        uncased.encode_batch("one text")
    with pytest.raises(ValueError, match="no room"):
        uncased.encode("hello", "world", max_length=2)
    with pytest.raises(ValueError, match=r"Unknown token ids \[99\]"):
        uncased.ids_to_tokens([2, 99])
    with pytest.raises(ValueError, match="2 first texts but 1 second"):
        uncased.encode_batch(["a", "b"], ["c"])
    with pytest.raises(FileNotFoundError, match="No vocabulary file"):
        read_vocabulary(str(tmp_path / "vocab.txt"))
    (tmp_path / "vocab.txt").write_text("a\nb\na\n", encoding="utf-8")
    with pytest.raises(ValueError, match="appears twice"):
        read_vocabulary(str(tmp_path / "vocab.txt"))


def test_vocabulary_file(tmp_path):
    (tmp_path / "vocab.txt").write_text("".join(t + "\n" for t in TOKENS), encoding="utf-8")
    tokenizer = BertTokenizer(str(tmp_path / "vocab.txt"))
    assert tokenizer.vocabulary_size == len(TOKENS)
    assert tokenizer.token_ids("hello world") == [8, 9]


def test_word_ids_follow_the_pieces():
    from tests.conformance.corpus import MULTILINGUAL
    from tests.conformance.make_references import FIXTURES

    tokenizer = BertTokenizer(f"{FIXTURES}/tiny_google/vocab.txt")
    texts = MULTILINGUAL + ["unaffable, jack", "東京 and 北京", "", "   "]
    for text in texts:
        pieces, words = tokenizer.tokenize(text), tokenizer.word_ids(text)
        assert len(words) == len(pieces), text
        # Words are numbered from 0 in order; a piece starts a new word
        # exactly when it is not a "##" continuation.
        for index, (piece, word) in enumerate(zip(pieces, words, strict=True)):
            previous = words[index - 1] if index else -1
            assert word == previous + (0 if piece.startswith("##") else 1), (text, index)
