"""`decode` (and keras-hub's `detokenize`) on every tokenizer of
kerastack-tokenizers: ids back to text.

The round trip `decode(token_ids(text))` is checked on the tokenizer
conformance corpus (tests/conformance/corpus.py: the standard library's
docstrings, the installed packages' descriptions and a multilingual sample)
against each tokenizer's normalization of the text, written here from its
documented rules: byte-level BPE gives every text back exactly; WordPiece
and OpenAI GPT's BPE give the words of BERT's basic tokenization (cleaned,
CJK characters apart, lower-cased without accents when uncased) joined by
single spaces; the SentencePiece tokenizers give the text's words joined by
single spaces (after ALBERT's preprocessing). Each vocabulary holds every
character of the corpus, so no word becomes the unknown token (but for
WordPiece's words longer than 100 characters, which are `[UNK]` by rule).
The SentencePiece models are trained here without normalization
(`identity`), so the text the model sees is the text the rules give."""

import io
import json
import re
import unicodedata

import numpy as np
import pytest

from kerastack.tokenizers import (
    AlbertTokenizer,
    BertTokenizer,
    CamembertTokenizer,
    GPT2Tokenizer,
    OpenAIGPTTokenizer,
    RobertaTokenizer,
    T5Tokenizer,
    XLMRobertaTokenizer,
)
from tests.conformance.corpus import MULTILINGUAL, corpus
from tests.conformance.make_references import FIXTURES

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Unicode's White_Space characters (the SentencePiece tokenizers split words
# at them, as transformers does).
WHITESPACE = re.compile(
    "[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
)


@pytest.fixture(scope="module")
def texts():
    """Every eighth text of the corpus and the whole multilingual sample
    (the whole corpus takes ten times as long, for no other case)."""
    texts = corpus()
    assert len(texts) > 500 and sum(map(len, texts)) > 500_000
    sample = texts[::8] + MULTILINGUAL
    assert len(sample) > 150 and sum(map(len, sample)) > 50_000
    return sample


# -- BERT's basic tokenization, written from Google's rules --------------------------


def _is_cjk(c):
    cp = ord(c)
    return any(
        lo <= cp <= hi
        for lo, hi in (
            (0x4E00, 0x9FFF),
            (0x3400, 0x4DBF),
            (0x20000, 0x2A6DF),
            (0x2A700, 0x2B73F),
            (0x2B740, 0x2B81F),
            (0x2B820, 0x2CEAF),
            (0xF900, 0xFAFF),
            (0x2F800, 0x2FA1F),
        )
    )


def _is_punctuation(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def basic_words(text, lowercase, specials=()):
    """The words of `text` as BERT's basic tokenizer makes them: `specials`
    written in the text kept whole; control characters dropped, whitespace a
    space, a space around each CJK ideograph, lower case without accents
    (`lowercase`), split at spaces and around each punctuation mark."""
    if specials:
        pattern = "(" + "|".join(re.escape(s) for s in specials) + ")"
        words = []
        for part in re.split(pattern, text):
            words += [part] if part in specials else basic_words(part, lowercase)
        return words
    cleaned = []
    for c in text:
        if c in "\t\n\r" or unicodedata.category(c) == "Zs":
            cleaned.append(" ")
        elif ord(c) in (0, 0xFFFD) or unicodedata.category(c) in ("Cc", "Cf"):
            continue
        elif _is_cjk(c):
            cleaned.append(f" {c} ")
        else:
            cleaned.append(c)
    text = "".join(cleaned)
    if lowercase:
        text = unicodedata.normalize("NFD", text.lower())
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    words = []
    for word in text.split(" "):
        current = ""
        for c in word:
            if _is_punctuation(c):
                words += [current] if current else []
                words.append(c)
                current = ""
            else:
                current += c
        words += [current] if current else []
    return words


def _character_vocabulary(words, prefix="", suffix=""):
    """Every character of `words`, as itself and with `prefix` / `suffix`."""
    characters = sorted({c for word in words for c in word})
    return characters + [prefix + c + suffix for c in characters]


@pytest.mark.parametrize("lowercase", [True, False])
def test_wordpiece_round_trip_gives_the_normalized_words(texts, lowercase):
    words = [basic_words(text, lowercase, BERT_SPECIALS) for text in texts]
    vocabulary = BERT_SPECIALS + _character_vocabulary(
        [w for row in words for w in row if w not in BERT_SPECIALS], prefix="##"
    )
    tokenizer = BertTokenizer(vocabulary, lowercase=lowercase)
    for text, row in zip(texts, words, strict=True):
        expected = " ".join(w if len(w) <= 100 else "[UNK]" for w in row)
        ids = tokenizer.token_ids(text)
        assert tokenizer.decode(ids) == expected, text[:200]
    assert tokenizer.detokenize(ids) == tokenizer.decode(ids)


def test_wordpiece_joins_pieces_and_keeps_or_skips_special_tokens():
    vocabulary = BERT_SPECIALS + ["un", "##aff", "##able", "hello", ",", "##s"]
    tokenizer = BertTokenizer(vocabulary)
    inputs = tokenizer.encode("Unaffable, hellos", "hello [MASK]", max_length=12)
    ids = inputs["token_ids"]
    assert tokenizer.decode(ids) == ("[CLS] unaffable , hellos [SEP] hello [MASK] [SEP] [PAD]")
    assert tokenizer.decode(ids, skip_special_tokens=True) == "unaffable , hellos hello"
    assert tokenizer.decode(tokenizer.token_ids("unknowable")) == "[UNK]"
    # A batch: a 2-D array (or nested lists) gives one text per row.
    batch = tokenizer.encode_batch(["hello", "un"], max_length=4)["token_ids"]
    assert tokenizer.decode(batch, skip_special_tokens=True) == ["hello", "un"]
    expected = ["[CLS] hello [SEP] [PAD]", "[CLS] un [SEP] [PAD]"]
    assert tokenizer.detokenize(batch.tolist()) == expected
    assert tokenizer.decode([]) == ""


# -- byte-level BPE: the text itself --------------------------------------------------


def byte_level_tokenizers():
    folder = f"{FIXTURES}/tiny_roberta"
    roberta = RobertaTokenizer.from_folder(folder)
    with open(f"{folder}/vocab.json", encoding="utf-8") as file:
        vocabulary = json.load(file)
    vocabulary["<|endoftext|>"] = len(vocabulary)
    gpt2 = GPT2Tokenizer(vocabulary, f"{folder}/merges.txt")
    return {"roberta": roberta, "gpt2": gpt2}


def test_byte_level_round_trip_gives_the_text_back(texts):
    for tokenizer in byte_level_tokenizers().values():
        ids = tokenizer.token_ids_batch(texts)
        assert tokenizer.decode(ids) == texts
        assert tokenizer.detokenize(ids[-1]) == texts[-1]


def test_byte_level_special_tokens_kept_or_skipped():
    tokenizers = byte_level_tokenizers()
    roberta, gpt2 = tokenizers["roberta"], tokenizers["gpt2"]
    ids = roberta.encode("hello", "world")["token_ids"]
    assert roberta.decode(ids) == "<s>hello</s></s>world</s>"
    assert roberta.decode(ids, skip_special_tokens=True) == "helloworld"
    ids = gpt2.token_ids("one<|endoftext|>two")
    assert gpt2.decode(ids) == "one<|endoftext|>two"
    assert gpt2.decode(ids, skip_special_tokens=True) == "onetwo"


# -- OpenAI GPT's BPE: BERT's uncased words ------------------------------------------


def test_openai_gpt_round_trip_gives_the_normalized_words(texts):
    words = [basic_words(text, lowercase=True, specials=["<unk>"]) for text in texts]
    vocabulary = ["<unk>"] + _character_vocabulary(
        [w for row in words for w in row if w != "<unk>"], suffix="</w>"
    )
    tokenizer = OpenAIGPTTokenizer({t: i for i, t in enumerate(vocabulary)}, [])
    decoded = tokenizer.decode(tokenizer.token_ids_batch(texts))
    for text, row, result in zip(texts, words, decoded, strict=True):
        # Each word ends with `</w>`, a space; `<unk>` written in the text
        # has none, so nothing parts it from the next word.
        expected = "".join(w if w == "<unk>" else w + " " for w in row).rstrip(" ")
        assert result == expected, text[:200]


def test_openai_gpt_special_tokens_kept_or_skipped():
    tokenizer = OpenAIGPTTokenizer.from_folder(f"{FIXTURES}/tiny_openai_gpt")
    ids = tokenizer.token_ids("the <unk> dog")
    assert tokenizer.decode(ids) == "the <unk>dog"  # as transformers' decode
    assert tokenizer.decode(ids, skip_special_tokens=True) == "the dog"


# -- SentencePiece: the words, single-spaced ------------------------------------------


def _train(lines, **options):
    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        model_type="unigram",
        vocab_size=600,
        hard_vocab_limit=False,
        character_coverage=1.0,
        normalization_rule_name="identity",
        minloglevel=2,
        **options,
    )
    return model.getvalue()


def _lines(texts):
    """Training sentences: the texts' lines, cut to 1,000 characters
    (SentencePiece skips sentences over 4,192 bytes)."""
    return [
        line[start : start + 1000]
        for text in texts
        for line in text.splitlines()
        for start in range(0, len(line), 1000)
        if line.strip()
    ]


def albert_preprocess(text):
    """ALBERT's preprocessing (its documented rules), before SentencePiece."""
    text = " ".join(text.strip().split()).replace("``", '"').replace("''", '"')
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


def sentencepiece_text(text, specials, normalize):
    """What SentencePiece's pieces spell for `text`: each part between
    `specials` normalized, each of its words after a space (`▁`); each
    special token as written."""
    pattern = "(" + "|".join(re.escape(s) for s in sorted(specials, key=len)[::-1]) + ")"
    spelled = []
    for part in re.split(pattern, text):
        if part in specials:
            spelled.append(part)
        else:
            spelled += [" " + word for word in normalize(part)]
    return "".join(spelled)


@pytest.fixture(scope="module")
def fairseq_model(texts):
    """A SentencePiece model as XLM-R's and ALBERT's begin (`<unk>`, `<s>`,
    `</s>`), with ALBERT's specials too, holding every character of the
    corpus (raw and ALBERT-preprocessed)."""
    lines = _lines(texts) + _lines([albert_preprocess(t) for t in texts])
    return _train(
        lines, unk_id=0, bos_id=1, eos_id=2, pad_id=3, control_symbols=["[CLS]", "[SEP]", "[MASK]"]
    )


@pytest.fixture(scope="module")
def t5_model(texts):
    return _train(_lines(texts), pad_id=0, eos_id=1, unk_id=2, bos_id=-1)


@pytest.fixture(scope="module")
def sentencepiece_texts(texts):
    """The texts without control and format characters (`\\x00`, `\\u200b`,
    ...; whitespace kept), which SentencePiece's trainer leaves out of its
    models (and the released models' normalization removes)."""

    def keep(c):
        return WHITESPACE.match(c) or unicodedata.category(c) not in ("Cc", "Cf")

    return ["".join(c for c in text if keep(c)) for text in texts]


def _words(part):
    return [word for word in WHITESPACE.split(part) if word]


def test_albert_round_trip_gives_the_preprocessed_words(sentencepiece_texts, fairseq_model):
    texts = sentencepiece_texts
    tokenizer = AlbertTokenizer(fairseq_model)
    specials = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    for text in texts:
        expected = sentencepiece_text(
            text, specials, lambda part: albert_preprocess(part).split() if part.strip() else []
        ).strip()
        # SentencePiece's own word mark in a text decodes as the space it stands for.
        expected = expected.replace("\u2581", " ")
        ids = tokenizer.token_ids(text)
        assert ids.count(tokenizer.unk_id) == text.count("<unk>"), text[:200]  # none unknown
        assert tokenizer.decode(ids) == expected, text[:200]
    assert tokenizer.detokenize(ids) == tokenizer.decode(ids)


def test_t5_round_trip_gives_the_words(sentencepiece_texts, t5_model):
    texts = sentencepiece_texts
    tokenizer = T5Tokenizer(t5_model)

    def normalize(part):
        # A word holding SentencePiece's mark is cut before each mark,
        # which decodes as a space (see T5Tokenizer).
        marked = (w if w.startswith("\u2581") else "\u2581" + w for w in _words(part))
        return [w.replace("\u2581", " ")[1:] for w in marked]

    for text in texts:
        ids = tokenizer.token_ids(text)
        assert ids.count(tokenizer.unk_id) == text.count("<unk>"), text[:200]  # none unknown
        expected = sentencepiece_text(text, tokenizer.special_tokens, normalize).strip()
        assert tokenizer.decode(ids) == expected, text[:200]


@pytest.mark.parametrize("tokenizer_class", [XLMRobertaTokenizer, CamembertTokenizer])
def test_xlm_roberta_round_trip_gives_the_words(
    sentencepiece_texts, fairseq_model, tokenizer_class
):
    texts = sentencepiece_texts
    tokenizer = tokenizer_class(fairseq_model)

    def normalize(part):
        return [" ".join(_words(part))] if _words(part) else []

    for text in texts:
        ids = tokenizer.token_ids(text)
        assert ids.count(tokenizer.unk_id) == text.count("<unk>"), text[:200]  # none unknown
        expected = sentencepiece_text(text, tokenizer.special_tokens, normalize)
        expected = expected.replace("\u2581", " ")
        # As transformers: only the first word's space is dropped.
        expected = expected[1:] if expected.startswith(" ") else expected
        assert tokenizer.decode(ids) == expected, text[:200]


def test_sentencepiece_special_tokens_kept_or_skipped(fairseq_model, t5_model):
    albert = AlbertTokenizer(fairseq_model)
    ids = albert.encode("Hello there", "World")["token_ids"]
    assert albert.decode(ids) == "[CLS] hello there[SEP] world[SEP]"
    assert albert.decode(ids, skip_special_tokens=True) == "hello there world"
    t5 = T5Tokenizer(t5_model)
    ids = t5.encode("hello <extra_id_0> world")["token_ids"]
    assert t5.decode(ids) == "hello<extra_id_0> world</s>"
    assert t5.decode(ids, skip_special_tokens=True) == "hello world"
    xlmr = XLMRobertaTokenizer(fairseq_model)
    ids = xlmr.encode("hello", "world")["token_ids"]
    assert xlmr.decode(ids) == "<s> hello</s></s> world</s>"
    assert xlmr.decode(ids, skip_special_tokens=True) == "hello world"


# -- every tokenizer: unknown ids are errors naming them ------------------------------


def all_tokenizers(fairseq_model, t5_model):
    return {
        "bert": BertTokenizer(BERT_SPECIALS + ["hello"]),
        **byte_level_tokenizers(),
        "openai_gpt": OpenAIGPTTokenizer.from_folder(f"{FIXTURES}/tiny_openai_gpt"),
        "albert": AlbertTokenizer(fairseq_model),
        "t5": T5Tokenizer(t5_model),
        "xlm_roberta": XLMRobertaTokenizer(fairseq_model),
        "camembert": CamembertTokenizer(fairseq_model),
    }


def test_unknown_ids_are_errors_naming_them(fairseq_model, t5_model):
    for name, tokenizer in all_tokenizers(fairseq_model, t5_model).items():
        size = tokenizer.vocabulary_size
        for method in (tokenizer.decode, tokenizer.detokenize):
            with pytest.raises(ValueError, match=rf"Unknown token ids \[{size}\]"):
                method([0, size])
            with pytest.raises(ValueError, match=r"Unknown token ids \[-1\]"):
                method(np.array([[0, -1]]))
            with pytest.raises(ValueError, match="dtype float"):
                method(np.array([0.0]))
        with pytest.raises(ValueError, match="skip_special_tokens"):
            tokenizer.decode([0], skip_special_tokens="yes")
        assert isinstance(tokenizer.decode(np.array([0, 0])), str), name
