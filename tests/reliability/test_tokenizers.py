"""Tokenizers (BertTokenizer, RobertaTokenizer / BytePairTokenizer,
GPT2Tokenizer, AlbertTokenizer, keras-bert's compat Tokenizer) and their
vocabularies under any text, any ids, any arguments and damaged files: each
outcome is the correct result or a ValueError (FileNotFoundError for a
missing file) naming the argument, entry or file.

The oracles are this file's own: Google's truncation loop, GPT-2's byte
table (written here from its definition), plain readings of the files,
and, in the torch lane, transformers' pure-Python BERT tokenizer.
"""

import collections
import importlib.util
import json
import os
import random
import re
import shutil
import unicodedata

import numpy as np
import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from kerastack.bert import (
    AlbertTokenizer,
    BertTokenizer,
    BytePairTokenizer,
    RobertaTokenizer,
    read_vocabulary,
)
from kerastack.bert.compat import Tokenizer as KerasBertTokenizer
from kerastack.gpt import GPT2Tokenizer
from tests.conformance import make_family_references as refs
from tests.conformance.make_references import minilm_folder
from tests.reliability.conftest import FUZZ_CASES

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
END = "<|endoftext|>"
HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None


# -- tokenizers under test ------------------------------------------------------------


@pytest.fixture(scope="module")
def bert():
    return BertTokenizer(os.path.join(minilm_folder(), "vocab.txt"))


@pytest.fixture(scope="module")
def roberta():
    return RobertaTokenizer.from_folder(refs.ROBERTA_FOLDER)


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpt2")
    with open(os.path.join(refs.ROBERTA_FOLDER, "vocab.json"), encoding="utf-8") as file:
        vocabulary = json.load(file)
    vocabulary[END] = len(vocabulary)
    (folder / "vocab.json").write_text(json.dumps(vocabulary), encoding="utf-8")
    shutil.copy(os.path.join(refs.ROBERTA_FOLDER, "merges.txt"), folder / "merges.txt")
    return GPT2Tokenizer.from_folder(str(folder))


@pytest.fixture(scope="module")
def albert():
    return AlbertTokenizer.from_folder(refs.ALBERT_FOLDER)


@pytest.fixture(scope="module")
def keras_bert():
    vocabulary = read_vocabulary(os.path.join(minilm_folder(), "vocab.txt"))
    return KerasBertTokenizer(vocabulary)


@pytest.fixture(scope="module")
def tokenizers(bert, roberta, gpt2, albert):
    return {"bert": bert, "roberta": roberta, "gpt2": gpt2, "albert": albert}


KINDS = ["bert", "roberta", "gpt2", "albert"]


# -- text -------------------------------------------------------------------------------

# Any str: every Unicode category, lone surrogates (Cs) included.
ANY_TEXT = st.text(st.characters(codec=None), max_size=40)
ODD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\t\n\r \u3000\u00a0",
        "\x00",
        "a\x00b",
        "\x07\x1b[0m",
        "e\u0301\u0302\u0303",
        "\u0301",
        "\U0001f600\U0001f468\u200d\U0001f469\u200d\U0001f467",
        "x" * 150,
        "unaffable" * 20,
        "\ufeffhello",
        "[MASK] [SEP]",
        "<mask> <s></s>",
        "\ud800",
        "a\udfffb",
        "\ud83d\ude00",  # a UTF-16 pair as two code points: two lone surrogates
    ]
)
# A text with a lone surrogate somewhere.
WITH_SURROGATE = st.builds(
    lambda before, surrogate, after: before + surrogate + after,
    ANY_TEXT,
    st.characters(categories=["Cs"]),
    ANY_TEXT,
)
TEXT = st.one_of(
    ANY_TEXT, st.text(st.characters(codec="utf-8"), max_size=40), ODD_TEXT, WITH_SURROGATE
)


def first_surrogate(text):
    match = re.search("[\ud800-\udfff]", text)
    return None if match is None else match.start()


def token_ids_or_error(tokenizer, text):
    """`tokenizer.token_ids(text)`, or None after checking that a text with
    a lone surrogate is a ValueError naming its position."""
    position = first_surrogate(text)
    if position is None:
        return tokenizer.token_ids(text)
    with pytest.raises(
        ValueError, match=f"`text` holds a lone surrogate, .* at position {position}:"
    ):
        tokenizer.token_ids(text)
    event("lone surrogate: ValueError")
    return None


def byte_decoder():
    """GPT-2's printable character -> byte table, from its definition: the
    printable Latin-1 bytes stand for themselves, every other byte b for
    chr(256 + n), n counting those bytes in order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {chr(b): b for b in printable}
    others = [b for b in range(256) if b not in printable]
    table.update({chr(256 + n): b for n, b in enumerate(others)})
    return table


BYTES_OF = byte_decoder()


@pytest.mark.parametrize("kind", KINDS)
@given(text=TEXT)
def test_every_str_tokenizes_or_names_its_lone_surrogate(tokenizers, kind, text):
    tokenizer = tokenizers[kind]
    ids = token_ids_or_error(tokenizer, text)
    if ids is None:
        return
    assert all(isinstance(i, int) and 0 <= i < tokenizer.vocabulary_size for i in ids)
    tokens = tokenizer.tokenize(text)
    if kind == "albert":
        # SentencePiece shows an unknown character as itself; its id is <unk>'s.
        assert ids == [tokenizer.vocabulary.get(t, tokenizer.unk_id) for t in tokens]
        assert isinstance(tokenizer.detokenize(ids), str)
    else:
        assert tokens == tokenizer.ids_to_tokens(ids)
    if kind in ("roberta", "gpt2"):
        # Byte-level BPE: the pieces' bytes are the text's UTF-8 bytes, and
        # detokenize gives the text back (but for <mask>, which takes the
        # space before it, as RoBERTa's tokenizer does).
        specials = tokenizer.special_tokens
        if not any(special in text for special in specials):
            pieces = b"".join(bytes(BYTES_OF[c] for c in token) for token in tokens)
            assert pieces == text.encode("utf-8")
            assert tokenizer.detokenize(ids) == text
    if kind == "bert":
        offsets = tokenizer.offsets(text)
        assert len(offsets) == len(ids)
        assert all(0 <= start <= end <= len(text) for start, end in offsets)
        if len(text) > 100 and " " not in text and text.isalpha():
            assert tokens == ["[UNK]"]


# Characters both Unicode tables agree on (transformers' pure-Python tokenizer
# reads Python's unicodedata, kerastack's engine its own tables): ASCII,
# Latin, Greek, Cyrillic, CJK, combining accents, common punctuation and
# controls. Elsewhere the two differ on characters added to Unicode lately,
# and transformers drops private-use and unassigned characters that Google's
# BERT (and kerastack) keep as [UNK].
COMMON = st.characters(
    codec="utf-8",
    categories=("L", "M", "N", "P", "S", "Z", "Cc", "Cf"),
    max_codepoint=0x9FFF,
).filter(
    lambda c: c < "\u0370" or "\u0370" <= c < "\u0530" or "\u2000" <= c < "\u2070" or c >= "\u4e00"
)


@pytest.mark.skipif(not HAS_TRANSFORMERS, reason="transformers is in the torch lane only")
@given(text=st.text(COMMON, max_size=30))
@example(text="")
@example(text=" \t\n\u3000 ")
@example(text="hel\x00lo\x07 wor\u200bld")
@example(text="cafe\u0301 e\u0301\u0302 \u0301")
@example(text="smile \U0001f600 family \U0001f468\u200d\U0001f469\u200d\U0001f467!")
@example(text="x" * 100 + " " + "x" * 101 + " unaffable" * 12)
@example(text="東京 [MASK] [SEP]")
def test_bert_agrees_with_transformers_pure_python_tokenizer(bert, text):
    import transformers

    reference = _legacy_bert()
    assert bert.token_ids(text) == reference.encode(text, add_special_tokens=False), [
        (c, hex(ord(c)), unicodedata.category(c)) for c in text
    ]
    del transformers


_LEGACY = []


def _legacy_bert():
    import transformers

    if not _LEGACY:
        vocab = os.path.join(minilm_folder(), "vocab.txt")
        _LEGACY.append(transformers.BertTokenizerLegacy(vocab, do_lower_case=True))
    return _LEGACY[0]


@given(text=TEXT, second=st.one_of(st.none(), TEXT))
def test_keras_bert_tokenizer_takes_every_str(keras_bert, text, second):
    position = first_surrogate(text)
    second_position = None if second is None else first_surrogate(second)
    if position is not None or second_position is not None:
        name = "first" if position is not None else "second"
        with pytest.raises(ValueError, match=f"`{name}` holds a lone surrogate"):
            keras_bert.encode(text, second)
        return
    tokens = keras_bert.tokenize(text, second)
    indices, segments = keras_bert.encode(text, second)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert len(indices) == len(segments) == len(tokens)
    if second is None:
        spans = keras_bert.rematch(text, tokens[1:-1])  # keras-bert's: without [CLS], [SEP]
        assert len(spans) == len(tokens) - 2
        assert all(0 <= start <= end <= len(text) for start, end in spans)


# -- non-str texts and arguments ----------------------------------------------------------

NOT_TEXT = st.one_of(
    st.binary(max_size=5),
    st.none(),
    st.integers(),
    st.floats(),
    st.lists(st.text(max_size=3), max_size=2),
    st.just(np.array(["a"])),
)


@pytest.mark.parametrize("kind", KINDS)
@given(value=NOT_TEXT)
def test_texts_that_are_not_str_are_value_errors_naming_the_argument(tokenizers, kind, value):
    tokenizer = tokenizers[kind]
    with pytest.raises(ValueError, match="`text` must be a str"):
        tokenizer.tokenize(value)
    with pytest.raises(ValueError, match="`text` must be a str"):
        tokenizer.token_ids(value)
    if kind == "gpt2":
        with pytest.raises(ValueError, match=r"`texts(\[0\])?` must be"):
            tokenizer.encode_batch([value])
        return
    with pytest.raises(ValueError, match="`first` must be a str"):
        tokenizer.encode(value)
    with pytest.raises(ValueError, match=r"`firsts\[1\]` must be a str"):
        tokenizer.encode_batch(["a", value])
    with pytest.raises(ValueError, match=r"`seconds\[0\]` must be a str"):
        tokenizer.encode_batch(["a"], [value])


@pytest.mark.parametrize("kind", KINDS)
def test_batches_of_the_wrong_kind(tokenizers, kind):
    tokenizer = tokenizers[kind]
    argument = "texts" if kind == "gpt2" else "firsts"
    for value in ("one text", None, 3):
        with pytest.raises(ValueError, match=f"`{argument}` must be a list of str"):
            tokenizer.encode_batch(value)
    with pytest.raises(ValueError, match=rf"`{argument}\[0\]` must be a str, received list"):
        tokenizer.encode_batch([["nested"]])
    if kind != "gpt2":
        with pytest.raises(ValueError, match="2 first texts but 1 second"):
            tokenizer.encode_batch(["a", "b"], ["c"])


LENGTHS = st.one_of(
    st.integers(-3, 40),
    st.integers(1, 40).map(np.int64),
    st.integers(1, 40).map(np.int32),
    st.floats(-2, 40),
    st.sampled_from([None, True, False, "8", 8.0, [8], np.float32(8)]),
)


def valid_length(value):
    if value is None:
        return True
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        return False
    return value >= 1


def googles_pair(first, second, budget):
    """Google BERT's `_truncate_seq_pair`, as a loop."""
    first, second = list(first), list(second)
    while len(first) + len(second) > budget:
        (first if len(first) > len(second) else second).pop()
    return first, second


@pytest.mark.parametrize("kind", ["bert", "roberta", "albert"])
@given(
    firsts=st.lists(st.text(st.characters(codec="utf-8"), max_size=20), max_size=3),
    pair=st.booleans(),
    max_length=LENGTHS,
)
def test_encode_batch_is_googles_packing_or_names_max_length(
    tokenizers, kind, firsts, pair, max_length
):
    tokenizer = tokenizers[kind]
    seconds = [text[::-1] for text in firsts] if pair else None
    if kind == "roberta":
        start, middle, end = [tokenizer.start_id], [tokenizer.end_id] * 2, [tokenizer.end_id]
    else:
        start, middle, end = [tokenizer.cls_id], [tokenizer.sep_id], [tokenizer.sep_id]
    specials = len(start) + len(end) + (len(middle) if pair else 0)
    if not valid_length(max_length):
        with pytest.raises(ValueError, match="`max_length` must be a positive int or None"):
            tokenizer.encode_batch(firsts, seconds, max_length=max_length)
        event("bad max_length: ValueError")
        return
    if max_length is not None and max_length < specials:
        with pytest.raises(ValueError, match=f"max_length={max_length} leaves no room"):
            tokenizer.encode_batch(firsts, seconds, max_length=max_length)
        return
    inputs = tokenizer.encode_batch(firsts, seconds, max_length=max_length)
    rows = []
    for index, text in enumerate(firsts):
        a = tokenizer.token_ids(text)
        if pair:
            b = tokenizer.token_ids(seconds[index])
            if max_length is not None:
                a, b = googles_pair(a, b, max_length - specials)
            rows.append(start + a + middle + b + end)
        else:
            a = a if max_length is None else a[: max_length - specials]
            rows.append(start + a + end)
    width = max_length if max_length is not None else max((len(r) for r in rows), default=0)
    assert inputs["token_ids"].shape == (len(firsts), width)
    for row, ids, mask in zip(rows, inputs["token_ids"], inputs["padding_mask"], strict=True):
        assert list(ids[: len(row)]) == row
        assert (ids[len(row) :] == tokenizer.pad_id).all()
        assert list(mask) == [1] * len(row) + [0] * (width - len(row))


@given(max_length=LENGTHS, padding_side=st.sampled_from(["left", "right", "middle", None, 1]))
def test_gpt2_encode_batch_checks_its_arguments(gpt2, max_length, padding_side):
    texts = ["Hello world", "The quick brown fox"]
    longest = max(len(gpt2.token_ids(text)) for text in texts)
    if not valid_length(max_length):
        with pytest.raises(ValueError, match="`max_length` must be a positive int or None"):
            gpt2.encode_batch(texts, max_length=max_length, padding_side=padding_side)
    elif padding_side not in ("left", "right"):
        with pytest.raises(ValueError, match="padding_side"):
            gpt2.encode_batch(texts, max_length=max_length, padding_side=padding_side)
    elif max_length is not None and max_length < longest:
        with pytest.raises(ValueError, match=f"more than max_length={max_length}"):
            gpt2.encode_batch(texts, max_length=max_length, padding_side=padding_side)
    else:
        inputs = gpt2.encode_batch(texts, max_length=max_length, padding_side=padding_side)
        assert inputs["token_ids"].shape == (2, longest if max_length is None else max_length)


@given(max_len=LENGTHS, pair=st.booleans())
def test_keras_bert_max_len(keras_bert, max_len, pair):
    second = "hello world" if pair else None
    if not valid_length(max_len):
        with pytest.raises(ValueError, match="`max_len` must be a positive int or None"):
            keras_bert.encode("unaffable text", second, max_len=max_len)
        return
    if max_len is not None and max_len < (3 if pair else 2):
        with pytest.raises(ValueError, match=f"max_len={max_len} leaves no room"):
            keras_bert.encode("unaffable text", second, max_len=max_len)
        return
    indices, segments = keras_bert.encode("unaffable text", second, max_len=max_len)
    unpadded, _ = keras_bert.encode("unaffable text", second)
    if max_len is None:
        assert indices == unpadded
    else:
        assert len(indices) == len(segments) == max_len


# -- ids -----------------------------------------------------------------------------------

SCALAR_IDS = st.one_of(
    st.integers(-3, 420),
    st.integers(0, 420).map(np.int64),
    st.integers(0, 420).map(np.uint16),
    st.floats(0, 420),
    st.integers(0, 400).map(float),
    st.integers(0, 400).map(np.float32),
    st.booleans(),
    st.sampled_from(["3", None, b"3", np.True_]),
)
ID_LISTS = st.one_of(
    st.lists(SCALAR_IDS, max_size=5),
    st.lists(st.lists(st.integers(-1, 410), max_size=3), max_size=3),
    st.lists(st.integers(0, 410), max_size=5).map(lambda v: np.array(v, dtype="int32")),
    st.lists(st.floats(0, 10), max_size=4).map(np.array),
    st.lists(st.integers(0, 10), min_size=1, max_size=4).map(lambda v: np.array(v) > 3),
    st.lists(st.integers(0, 410), min_size=2, max_size=6).map(
        lambda v: np.array(v[: len(v) // 2 * 2]).reshape(2, -1)
    ),
    st.just([1, [2, 3]]),
    SCALAR_IDS,
)


def expected_ids(ids, size):
    """`ids` as nested Python ints, or the text the error must hold."""
    if isinstance(ids, (np.ndarray, np.generic)):
        if ids.dtype.kind not in "iu" and ids.size:
            return f"has dtype {ids.dtype}"
        ids = ids.astype(np.int64).tolist()
    if isinstance(ids, (bool, np.bool_)) or not isinstance(ids, (int, np.integer, list)):
        return f"is {re.escape(repr(ids))}"
    if isinstance(ids, list):
        values = [expected_ids(value, size) for value in ids]
        for value in values:
            if isinstance(value, str):
                return value
        if len({isinstance(v, int) for v in values if v != []}) > 1:
            return "mixes ids and lists of ids"
        return values
    return int(ids)


def out_of_range(ids, size):
    if isinstance(ids, int):
        return [] if 0 <= ids < size else [ids]
    return [bad for value in ids for bad in out_of_range(value, size)]


def leaves_map(ids, function):
    return function(ids) if isinstance(ids, int) else [leaves_map(v, function) for v in ids]


@pytest.mark.parametrize("kind", KINDS)
@given(ids=ID_LISTS)
def test_ids_are_checked_integers(tokenizers, kind, ids):
    tokenizer = tokenizers[kind]
    size = tokenizer.vocabulary_size
    inverse = {i: t for t, i in tokenizer.vocabulary.items()}
    expected = expected_ids(ids, size)
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=expected):
            tokenizer.ids_to_tokens(ids)
        if hasattr(tokenizer, "detokenize"):
            with pytest.raises(ValueError, match=expected):
                tokenizer.detokenize(ids)
        event("bad ids: ValueError naming the id")
        return
    bad = out_of_range(expected, size)
    if bad:
        message = rf"Unknown token ids \[{bad[0]}.*vocabulary_size={size}\)"
        with pytest.raises(ValueError, match=message):
            tokenizer.ids_to_tokens(ids)
        event("ids out of range: ValueError")
        return
    assert tokenizer.ids_to_tokens(ids) == leaves_map(expected, inverse.__getitem__)
    if kind in ("roberta", "gpt2"):
        text = tokenizer.detokenize(ids)

        def decode(row):
            data = b"".join(bytes(BYTES_OF[c] for c in inverse[i]) for i in row)
            return data.decode("utf-8", errors="replace")

        if isinstance(expected, int) or all(isinstance(i, int) for i in expected):
            assert text == decode([expected] if isinstance(expected, int) else expected)
        else:
            assert text == [decode(row) for row in expected]


def test_deep_nesting_is_a_value_error(roberta):
    ids = [1]
    for _ in range(100):
        ids = [ids]
    with pytest.raises(ValueError, match="nests lists deeper than 32 levels"):
        roberta.detokenize(ids)


# -- vocabularies --------------------------------------------------------------------------

MINIMAL = SPECIALS + ["hello", "world", "##s"]


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return str(path)


BAD_VOCAB_FILES = {
    "latin-1": ("\n".join(MINIMAL + ["café"]).encode("latin-1"), r"line 9: not UTF-8"),
    "utf-16": ("\n".join(MINIMAL).encode("utf-16"), "UTF-16 byte-order mark"),
    "utf-16-be": (
        b"\xfe\xff" + "\n".join(MINIMAL).encode("utf-16-be"),
        "UTF-16 byte-order mark",
    ),
    "empty": (b"", "holds no tokens"),
    "one blank line": (b"\n", "lacks the special tokens"),
    "duplicate": ("\n".join(MINIMAL + ["hello"]), r"'hello' appears twice \(lines 6 and 9\)"),
    "no [MASK]": ("\n".join(t for t in MINIMAL if t != "[MASK]"), r"lacks .*\['\[MASK\]'\]"),
    "binary": (bytes(range(256)), "not UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD_VOCAB_FILES))
def test_bad_vocab_txt_is_a_value_error_naming_the_file(tmp_path, case):
    data, message = BAD_VOCAB_FILES[case]
    path = write(tmp_path, "vocab.txt", data)
    with pytest.raises(ValueError, match=message) as error:
        BertTokenizer(path)
    assert path in str(error.value)


def test_vocab_txt_with_a_byte_order_mark_or_crlf_reads_as_without(tmp_path):
    plain = BertTokenizer(MINIMAL)
    for data in ("\ufeff" + "\n".join(MINIMAL), "\r\n".join(MINIMAL) + "\r\n"):
        tokenizer = BertTokenizer(write(tmp_path, "vocab.txt", data))
        assert tokenizer.vocabulary == plain.vocabulary
    with pytest.raises(FileNotFoundError, match="No vocabulary file at"):
        BertTokenizer(str(tmp_path / "missing.txt"))
    with pytest.raises(ValueError, match="path must be a str"):
        read_vocabulary(None)


def vocabulary(**changes):
    base = {token: index for index, token in enumerate(MINIMAL)}
    base.update(changes)
    return base


BAD_DICTS = {
    "float id": (vocabulary(hello=5.0), r"token 'hello' has id 5.0 \(float\)"),
    "str id": (vocabulary(hello="5"), r"token 'hello' has id '5' \(str\)"),
    "bool id": (vocabulary(hello=True), r"token 'hello' has id True \(bool\)"),
    "None id": (vocabulary(hello=None), r"token 'hello' has id None"),
    "negative id": (vocabulary(hello=-1), r"token 'hello' has id -1; the ids of 8 tokens"),
    "gap": (vocabulary(hello=50), r"token 'hello' has id 50; the ids of 8 tokens are 0..7"),
    "duplicate id": (vocabulary(hello=6), r"tokens 'hello' and 'world' both have id 6"),
    "int token": ({**vocabulary(), 7: 8}, r"token 7 is a int; tokens are str"),
    "surrogate token": ({**vocabulary(), "\ud800": 8}, "holds a lone surrogate"),
    "empty": ({}, "is empty"),
    "list duplicate": (MINIMAL + ["hello"], r"'hello' appears twice \(positions 5 and 8\)"),
    "list non-str": (MINIMAL + [None], "token None is a NoneType"),
    "not a vocabulary": (42, "must be a {token: id} dict"),
}


@pytest.mark.parametrize("case", sorted(BAD_DICTS))
def test_bad_dict_vocabularies_are_value_errors_naming_the_entry(case):
    value, message = BAD_DICTS[case]
    with pytest.raises(ValueError, match=message):
        BertTokenizer(value)
    if isinstance(value, dict) and value and all(t in value for t in ("hello", "world")):
        merges = [("hello", "world")] if "helloworld" in value else []
        with pytest.raises(ValueError, match=message):
            BytePairTokenizer(value, merges)


def test_numpy_ids_in_a_dict_vocabulary_are_ints():
    tokenizer = BertTokenizer({t: np.int64(i) for t, i in vocabulary().items()})
    assert tokenizer.token_ids("hello worlds") == [5, 6, 7]
    assert all(type(i) is int for i in tokenizer.vocabulary.values())


@pytest.mark.parametrize("kind", ["bert", "roberta", "gpt2", "albert", "keras_bert"])
def test_missing_special_tokens_are_named(kind, tmp_path):
    if kind == "bert":
        with pytest.raises(ValueError, match=r"lacks the special tokens \['\[UNK\]', '\[CLS\]'\]"):
            BertTokenizer([t for t in MINIMAL if t not in ("[UNK]", "[CLS]")])
    elif kind == "roberta":
        with pytest.raises(ValueError, match=r"lacks the special tokens \['<s>', '</s>'"):
            RobertaTokenizer({"<pad>": 0, "a": 1}, [])
    elif kind == "gpt2":
        with pytest.raises(ValueError, match=r"lacks the special tokens \['<\|endoftext\|>'\]"):
            GPT2Tokenizer({"a": 0}, [])
        with pytest.raises(ValueError, match="end_token must be a str"):
            GPT2Tokenizer({"a": 0}, [], end_token=None)
    elif kind == "keras_bert":
        with pytest.raises(ValueError, match=r"lacks the special tokens \['\[SEP\]'\]"):
            KerasBertTokenizer({"[CLS]": 0, "[UNK]": 1})
        for bad, message in [
            ({"[CLS]": 0, "[SEP]": 1, "[UNK]": 2.0}, r"'\[UNK\]' has id 2.0"),
            ({"[CLS]": 0, "[SEP]": 1, "[UNK]": -2}, r"'\[UNK\]' has id -2"),
            ({"[CLS]": 0, "[SEP]": 1, "[UNK]": 2, 3: 3}, "token 3 is a int"),
            (["[CLS]"], "must be a {token: id} dict"),
        ]:
            with pytest.raises(ValueError, match=message):
                KerasBertTokenizer(bad)
        with pytest.raises(ValueError, match="`pad_index` must be an int >= 0"):
            KerasBertTokenizer({"[CLS]": 0, "[SEP]": 1, "[UNK]": 2}, pad_index=-1)
    else:
        # A SentencePiece model without ALBERT's [MASK].
        prefix = str(tmp_path / "spiece")
        _train_sentencepiece(prefix, ["[CLS]", "[SEP]"])
        with pytest.raises(
            ValueError, match=r"spiece.model lacks the special tokens \['\[MASK\]'\]"
        ):
            AlbertTokenizer(prefix + ".model")


def test_keras_bert_keeps_gapped_and_shared_ids():
    # keras-bert looked ids up in token_dict: gaps and shared ids were valid.
    tokenizer = KerasBertTokenizer(
        {"[CLS]": 101, "[SEP]": 102, "[UNK]": 100, "un": 7, "##aff": 7, "##able": np.int64(9)}
    )
    assert tokenizer.encode("unaffable") == ([101, 7, 7, 9, 102], [0, 0, 0, 0, 0])


def _train_sentencepiece(prefix, symbols):
    import sentencepiece

    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(refs.TRAINING_TEXTS),
        model_prefix=prefix,
        vocab_size=250,
        pad_id=0,
        unk_id=1,
        bos_id=-1,
        eos_id=-1,
        pad_piece="<pad>",
        unk_piece="<unk>",
        user_defined_symbols=symbols,
        minloglevel=2,
    )


BAD_MERGES = {
    "three parts": ("#version: 0.2\nh e l\n", r"merges.txt, line 2: a merge is two tokens"),
    "one part": ("h\n", r"merges.txt, line 1: a merge is two tokens"),
    "two spaces": ("h  e\n", r"merges.txt, line 1: a merge is two tokens"),
    "latin-1": ("h é\n".encode("latin-1"), r"merges.txt, line 1: not UTF-8"),
    "utf-16": ("h e\n".encode("utf-16"), "UTF-16"),
    "unknown token": (
        "h q\n",
        r"merges.txt, rule 0 \('h', 'q'\): the vocabulary lacks \['q', 'hq'\]",
    ),
    # tokenizers' Rust code panics on this one (a BaseException): checked first.
    "merged token missing": ("h e\nl o\n", r"rule 1 \('l', 'o'\): the vocabulary lacks \['lo'\]"),
}


@pytest.mark.parametrize("case", sorted(BAD_MERGES))
def test_bad_merges_are_value_errors_naming_the_file_and_line(tmp_path, case):
    data, message = BAD_MERGES[case]
    path = write(tmp_path, "merges.txt", data)
    with pytest.raises(ValueError, match=message) as error:
        BytePairTokenizer({"h": 0, "e": 1, "he": 2, "l": 3, "o": 4}, path)
    assert path in str(error.value)


def test_bad_merge_lists_name_the_rule():
    vocab = {"h": 0, "e": 1, "he": 2}
    for merges, message in [
        ([("h", "e", "x")], r"rule 0: a merge is two tokens"),
        ([("h", 1)], r"rule 0: a merge is two tokens"),
        (["h e", None], r"rule 1: a merge is two tokens"),
        (None, "must be a merges.txt path or a list"),
    ]:
        with pytest.raises(ValueError, match=message):
            BytePairTokenizer(vocab, merges)
    with pytest.raises(ValueError, match=r"lacks 254 of the 256 byte tokens"):
        BytePairTokenizer(vocab, ["h e"])  # its texts would lose bytes silently
    from tokenizers import pre_tokenizers

    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    vocab["he"] = len(vocab)
    assert BytePairTokenizer(vocab, ["h e"]).tokenize("he!") == ["he", "!"]


BAD_VOCAB_JSON = {
    "bad JSON": (b'{"a": 0,', "is not valid JSON"),
    "a list": (b'["a"]', "does not hold a JSON object"),
    "latin-1": ('{"caf\xe9": 0}'.encode("latin-1"), "not UTF-8"),
    "utf-16": ('{"a": 0}'.encode("utf-16"), "UTF-16"),
    "deep": (b'{"a": ' + b"[" * 100000 + b"]" * 100000 + b"}", "nest"),
    "float id": (b'{"a": 0, "b": 1.0}', r"token 'b' has id 1.0"),
    "gap": (b'{"a": 0, "b": 2}', r"token 'b' has id 2; the ids of 2 tokens"),
    "negative": (b'{"a": -1, "b": 0}', r"token 'a' has id -1"),
    "bool": (b'{"a": 0, "b": true}', r"token 'b' has id True"),
    "empty": (b"{}", "is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_VOCAB_JSON))
def test_bad_vocab_json_is_a_value_error_naming_the_file(tmp_path, case):
    data, message = BAD_VOCAB_JSON[case]
    path = write(tmp_path, "vocab.json", data)
    with pytest.raises(ValueError, match=message) as error:
        BytePairTokenizer(path, [])
    assert path in str(error.value)


def test_bad_sentencepiece_models(tmp_path):
    with pytest.raises(FileNotFoundError, match="No SentencePiece model at"):
        AlbertTokenizer(str(tmp_path / "spiece.model"))
    path = write(tmp_path, "spiece.model", b"\x00garbage")
    with pytest.raises(ValueError, match=f"Not a readable SentencePiece model: {re.escape(path)}"):
        AlbertTokenizer(path)
    for value in (None, 3, ["a"]):
        with pytest.raises(ValueError, match="proto must be a SentencePiece model's path or bytes"):
            AlbertTokenizer(value)
    with pytest.raises(ValueError, match="`lowercase` must be a bool"):
        AlbertTokenizer.from_folder(refs.ALBERT_FOLDER, lowercase="no")


def test_other_arguments_are_checked(tmp_path):
    for argument, value in [
        ("lowercase", "yes"),
        ("strip_accents", 1),
        ("max_characters_per_word", 0),
        ("max_characters_per_word", 2.5),
    ]:
        with pytest.raises(ValueError, match=f"`{argument}` must be"):
            BertTokenizer(MINIMAL, **{argument: value})
    tokenizer = BertTokenizer(MINIMAL, max_characters_per_word=np.int64(5))
    assert tokenizer.tokenize("hello hellos") == ["hello", "[UNK]"]
    with pytest.raises(ValueError, match="`add_prefix_space` must be a bool"):
        BytePairTokenizer({"a": 0}, [], add_prefix_space="no")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(MINIMAL), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text('{"do_lower_case": "false"}', encoding="utf-8")
    with pytest.raises(ValueError, match="do_lower_case must be true, false or null"):
        BertTokenizer.from_folder(str(folder))
    (folder / "tokenizer_config.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(ValueError, match="tokenizer_config.json"):
        BertTokenizer.from_folder(str(folder))


# -- mutation fuzz of the vocabulary files ---------------------------------------------------


def mutate(rng, data):
    data = bytearray(data)
    kind = rng.randrange(6)
    if kind == 0 and data:
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1:
        del data[rng.randrange(len(data) + 1) :]
    elif kind == 2:
        at = rng.randrange(len(data) + 1)
        data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif kind == 3 and data:
        at = rng.randrange(len(data))
        del data[at : at + rng.randint(1, 16)]
    elif kind == 4:  # a line twice
        lines = bytes(data).split(b"\n")
        line = rng.choice(lines)
        lines.insert(rng.randrange(len(lines) + 1), line)
        data = bytearray(b"\n".join(lines))
    else:  # a multi-byte character cut, or one Latin-1 byte
        at = rng.randrange(len(data) + 1)
        data[at:at] = rng.choice([b"\xc3", b"\xe9", b"\xe2\x82", b"\xf0\x9f\x98"])
    return bytes(data)


def reference_vocabulary(data):
    """The plain reading of a vocab.txt: UTF-8 (a BOM dropped), one token a
    line; None where it must be an error."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    tokens = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if tokens[-1] == "":
        tokens.pop()
    if not tokens or len(set(tokens)) != len(tokens) or any(t not in tokens for t in SPECIALS):
        return None
    return {token: index for index, token in enumerate(tokens)}


def test_mutated_vocab_txt_reads_right_or_is_a_value_error(tmp_path, record_property):
    words = ["hello", "world", "un", "##aff", "##able", "café", "東", "京", "##s", "!", ","]
    original = "\n".join(SPECIALS + words).encode("utf-8") + b"\n"
    rng = random.Random(17)
    outcomes = collections.Counter()
    path = str(tmp_path / "vocab.txt")
    for _ in range(FUZZ_CASES):
        data = mutate(rng, original)
        with open(path, "wb") as file:
            file.write(data)
        expected = reference_vocabulary(data)
        try:
            tokenizer = BertTokenizer(path)
        except ValueError as error:
            assert path in str(error), error
            assert expected is None, (data, error)
            outcomes["ValueError naming the file"] += 1
            continue
        assert tokenizer.vocabulary == expected, data
        ids = tokenizer.token_ids("Hello, unaffable café 東京!")
        assert all(0 <= i < tokenizer.vocabulary_size for i in ids)
        outcomes["read as the plain reading gives"] += 1
    record_property("outcomes", dict(outcomes))
    assert sum(outcomes.values()) == FUZZ_CASES
    assert outcomes["ValueError naming the file"] > 0


def test_mutated_byte_level_files_read_right_or_are_value_errors(tmp_path, record_property):
    with open(os.path.join(refs.ROBERTA_FOLDER, "vocab.json"), "rb") as file:
        vocab_data = file.read()
    with open(os.path.join(refs.ROBERTA_FOLDER, "merges.txt"), "rb") as file:
        merges_data = file.read()
    rng = random.Random(18)
    outcomes = collections.Counter()
    vocab_path, merges_path = str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt")
    text = "Hello world, the quick brown fox."
    for case in range(FUZZ_CASES):
        mutated = case % 2  # 0: vocab.json, 1: merges.txt
        vocab = mutate(rng, vocab_data) if mutated == 0 else vocab_data
        merges = mutate(rng, merges_data) if mutated == 1 else merges_data
        with open(vocab_path, "wb") as file:
            file.write(vocab)
        with open(merges_path, "wb") as file:
            file.write(merges)
        try:
            tokenizer = BytePairTokenizer(vocab_path, merges_path)
        except ValueError as error:
            assert (vocab_path if mutated == 0 else merges_path) in str(error), error
            outcomes["ValueError naming the file"] += 1
            continue
        # It read: then its vocabulary is the file's, ids 0..n-1, and the
        # text's bytes come back.
        values = json.loads(vocab.decode("utf-8-sig"))
        assert tokenizer.vocabulary == values
        assert sorted(values.values()) == list(range(len(values)))
        ids = tokenizer.token_ids(text)
        assert all(0 <= i < tokenizer.vocabulary_size for i in ids)
        assert tokenizer.detokenize(ids) == text
        outcomes["read, and the text comes back"] += 1
    record_property("outcomes", dict(outcomes))
    assert outcomes["ValueError naming the file"] > 0


def test_mutated_sentencepiece_models_read_or_are_value_errors(tmp_path, record_property):
    with open(os.path.join(refs.ALBERT_FOLDER, "spiece.model"), "rb") as file:
        original = file.read()
    rng = random.Random(19)
    outcomes = collections.Counter()
    path = str(tmp_path / "spiece.model")
    for _ in range(max(FUZZ_CASES // 3, 30)):
        with open(path, "wb") as file:
            file.write(mutate(rng, original))
        try:
            tokenizer = AlbertTokenizer(path)
        except ValueError as error:
            assert path in str(error), error
            outcomes["ValueError naming the file"] += 1
            continue
        # No checksum in the format: a damaged model that reads is only
        # checked to be a consistent tokenizer.
        ids = tokenizer.token_ids("Hello, world: 1,000 [MASK] café")
        assert all(0 <= i < tokenizer.vocabulary_size for i in ids)
        assert isinstance(tokenizer.detokenize(ids), str)
        outcomes["read (no checksum to check)"] += 1
    record_property("outcomes", dict(outcomes))
    assert outcomes["ValueError naming the file"] > 0
