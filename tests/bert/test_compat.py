"""keras-bert's Tokenizer: the keras-bert README's examples give its printed results."""

import pytest

from kerastack.bert.compat import Tokenizer

# The keras-bert README's token_dict.
TOKEN_DICT = {"[CLS]": 0, "[SEP]": 1, "un": 2, "##aff": 3, "##able": 4, "[UNK]": 5}


def test_readme_tokenize_and_encode():
    tokenizer = Tokenizer(TOKEN_DICT)
    assert tokenizer.tokenize("unaffable") == ["[CLS]", "un", "##aff", "##able", "[SEP]"]
    indices, segments = tokenizer.encode("unaffable")
    assert indices == [0, 2, 3, 4, 1]
    assert segments == [0, 0, 0, 0, 0]
    assert tokenizer.tokenize(first="unaffable", second="钢") == [
        "[CLS]", "un", "##aff", "##able", "[SEP]", "钢", "[SEP]",
    ]  # fmt: skip
    indices, segments = tokenizer.encode(first="unaffable", second="钢", max_len=10)
    assert indices == [0, 2, 3, 4, 1, 5, 1, 0, 0, 0]
    assert segments == [0, 0, 0, 0, 0, 1, 1, 0, 0, 0]


def test_truncation_longest_first_and_rematch():
    tokenizer = Tokenizer(TOKEN_DICT)
    indices, segments = tokenizer.encode("unaffable unaffable", "unaffable", max_len=8)
    # 5 = 8 - 3 pieces fit: the longer text loses a piece, the second on a tie.
    assert indices == [0, 2, 3, 4, 1, 2, 3, 1]
    assert segments == [0, 0, 0, 0, 0, 1, 1, 1]
    assert tokenizer.encode("unaffable", max_len=3)[0] == [0, 2, 1]
    spans = tokenizer.rematch("UnAffable")
    assert spans == [None, (0, 2), (2, 5), (5, 9), None]
    with pytest.raises(ValueError, match="tokens has 2 entries"):
        tokenizer.rematch("unaffable", ["[CLS]", "un"])


def test_cased_and_missing_specials():
    cased = Tokenizer({**TOKEN_DICT, "Un": 6}, cased=True)
    assert cased.tokenize("Unaffable") == ["[CLS]", "Un", "##aff", "##able", "[SEP]"]
    with pytest.raises(ValueError, match=r"lacks the special tokens \['\[UNK\]'\]"):
        Tokenizer({"[CLS]": 0, "[SEP]": 1})
