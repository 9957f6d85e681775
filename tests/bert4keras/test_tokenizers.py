"""kerastack.bert4keras.tokenizers gives what bert4keras 0.11.5 gives.

`record()` from tests/conformance/make_bert4keras_tokenizers.py makes the same
calls on kerastack's module as it made on the real bert4keras (recorded in
tests/conformance/fixtures/bert4keras/tokenizers.json, and checked to still be
the real package's output in the tfkeras lane): token ids, segment ids, tokens,
decoded text, `rematch` spans, truncation of pairs, `load_vocab` (simplified,
`startswith`), `save_vocab`, the `_is_*` helpers over the BMP, SpTokenizer on
a tiny committed SentencePiece model. Everything is compared exactly (ints
and strings). Then checks of what kerastack does where bert4keras fails or
changes its inputs.
"""

import ast
import inspect
import os
import pathlib

import pytest

from kerastack.bert4keras import tokenizers
from kerastack.bert4keras.tokenizers import SpTokenizer, Tokenizer, load_vocab
from tests.conformance import make_bert4keras_tokenizers as references

RECORDED = references.load()


@pytest.fixture(scope="module")
def ours():
    return references.record(tokenizers)


def test_same_keys_as_recorded(ours):
    assert sorted(ours) == sorted(RECORDED)


@pytest.mark.parametrize("key", sorted(RECORDED))
def test_equals_bert4keras(ours, key):
    computed, recorded = ours[key], RECORDED[key]
    if isinstance(recorded, list) and isinstance(computed, list):
        assert len(computed) == len(recorded), key
        for i, (mine, theirs) in enumerate(zip(computed, recorded, strict=True)):
            assert mine == theirs, f"{key}[{i}]"
    assert computed == recorded


def test_corpus_reaches_the_branches():
    """The recorded corpus exercises what it claims to: unknown words, CJK,
    truncation errors, pre_tokenize's whole words, lower-casing."""
    texts = RECORDED["tokenizer/cased/texts"]
    unk = RECORDED["tokenizer/cased/attributes"]["_token_unk_id"]
    assert any(unk in row["encode"][0] for row in texts)
    index = references.TEXTS.index("北京是中国的首都。")
    assert "北京" not in RECORDED["tokenizer/cased/texts"][index]["tokens"]
    assert "北京" in RECORDED["tokenizer/pre/texts"][index]["tokens"]
    assert {"error": "IndexError"} in RECORDED["tokenizer/cased/pairs"]
    index = references.TEXTS.index("HELLO World playing tokenizer tokenizers")
    assert "hello" in RECORDED["tokenizer/lower/texts"][index]["tokens"]
    assert "HELLO" in RECORDED["tokenizer/cased/texts"][index]["tokens"]


def test_module_imports_no_framework():
    """tokenizers.py is plain Python: it imports only the standard library (and
    sentencepiece, inside SpTokenizer)."""
    tree = ast.parse(inspect.getsource(tokenizers))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"os", "re", "unicodedata", "sentencepiece"}, imported


VOCAB = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "今", "天", "好"])}


def test_encode_leaves_token_lists_unchanged():
    """bert4keras truncates a token list given to encode in place; kerastack copies it."""
    first, second = ["[CLS]", "今", "天", "天", "[SEP]"], ["[CLS]", "好", "好", "[SEP]"]
    kept = (list(first), list(second))
    ids, segments = Tokenizer(VOCAB).encode(first, second, maxlen=5)
    assert ids == [2, 4, 3, 6, 3] and segments == [0, 0, 0, 1, 1]
    assert (first, second) == kept


def test_vocabulary_without_unk():
    """bert4keras raises AttributeError for every token; kerastack only for unknown ones."""
    tokenizer = Tokenizer({"[CLS]": 0, "[SEP]": 1, "好": 2})
    assert tokenizer.encode("好") == ([0, 2, 1], [0, 0, 0])
    assert not hasattr(tokenizer, "_token_unk_id")
    with pytest.raises(KeyError, match="no '\\[UNK\\]' token"):
        tokenizer.encode("坏")


def test_vocab_path_and_vocab_size(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    assert load_vocab(str(path)) == VOCAB
    for source in (str(path), pathlib.Path(path)):
        tokenizer = Tokenizer(source)
        assert tokenizer.vocab_size == tokenizer._vocab_size == len(VOCAB)
        assert tokenizer.encode("今天好") == ([2, 4, 5, 6, 3], [0] * 5)


def test_sp_tokenizer_on_the_committed_model():
    pytest.importorskip("sentencepiece")
    tokenizer = SpTokenizer(pathlib.Path(references.SP_MODEL))
    assert tokenizer.vocab_size == RECORDED["sp/default/attributes"]["_vocab_size"]
    ids, _ = tokenizer.encode("hello world")
    assert tokenizer.decode(ids) == "hello world"


def test_sp_tokenizer_without_a_padding_piece(tmp_path):
    """bert4keras fails on a model with no padding piece; kerastack keeps '[PAD]'."""
    spm = pytest.importorskip("sentencepiece")
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(references.SP_TRAINING * 5),
        model_prefix=os.fspath(tmp_path / "nopad"),
        vocab_size=40,
        hard_vocab_limit=False,
        model_type="char",
        pad_id=-1,
        unk_id=0,
        bos_id=-1,
        eos_id=-1,
        minloglevel=2,
    )
    tokenizer = SpTokenizer(os.fspath(tmp_path / "nopad.model"))
    assert tokenizer._token_pad == "[PAD]"
    assert tokenizer._token_unk == "<unk>" and tokenizer._token_unk_id == 0
