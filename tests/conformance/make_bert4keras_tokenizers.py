"""Record what bert4keras 0.11.5's `tokenizers` module gives on a fixed corpus.

Run from the repository root in the tfkeras lane's environment (the real
bert4keras on tf-keras, and sentencepiece):

    TF_KERAS=1 TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2 \\
        .tox/tfkeras/bin/python -m tests.conformance.make_bert4keras_tokenizers

It writes into tests/conformance/fixtures/bert4keras/:

- `tokenizers.json`: `compute()`'s result;
- `tokenizers_sp.model`: a tiny SentencePiece model (unigram, 160 pieces;
  `<pad>` 0, `<unk>` 1, control pieces `[CLS]` `[SEP]` `[MASK]`), trained
  here only when the file is missing (`--train-sp` trains it again), so that
  both sides read the same committed file.

`record(module)` makes the same calls on any module with bert4keras's
`tokenizers` names: `compute()` runs it on the real `bert4keras.tokenizers`;
tests/bert4keras/test_tokenizers.py runs it on `kerastack.bert4keras.tokenizers`
and compares; tests/bert4keras_real/test_tokenizers.py checks that `compute()`
still gives the file. This module imports neither package at its top.

The corpus is fixed here (plus `MULTILINGUAL` from tests/conformance/corpus.py,
a constant list): Chinese, Japanese, Korean and mixed text, accents, numbers,
punctuation, control and zero-width characters, very long and unknown words,
empty strings, pairs with `maxlen` truncation from either side. The WordPiece
vocabulary is tests/conformance/fixtures/tiny_google/vocab.txt plus `EXTRA`.
A call that raises records `{"error": <exception class name>}`.
"""

import json
import os
import sys
import tempfile

from tests.conformance.corpus import MULTILINGUAL

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "bert4keras")
REFERENCE = os.path.join(FIXTURES, "tokenizers.json")
SP_MODEL = os.path.join(FIXTURES, "tokenizers_sp.model")
BASE_VOCAB = os.path.join(HERE, "fixtures", "tiny_google", "vocab.txt")

# Added to the tiny Google vocabulary so that every branch is reached: CJK
# characters and words (the words only through `pre_tokenize`), `##` pieces,
# cased and accented words, punctuation, numbers.
EXTRA = (
    "北 京 是 中 国 的 首 都 我 爱 自 然 语 言 处 理 今 天 气 很 好 东 日 本 们 去 公 园 吧 "
    "你 世 界 文 混 合 本 科 幻 小 说 写 三 体 𠀀 "
    "##国 中国 北京 首都 自然语言 处理 今天 天气 "
    "， 。 ！ ？ 、 “ ” （ ） ： ； 《 》 … · — – "
    "は の です ##す 서울 ##은 한국 Москва москва столица "
    "hello Hello HELLO world World play ##ing ##er token ##ize ##izer ##s "
    "cafe café Café creme brulee naive pinata facade angstrom stra ##ße ##sse istanbul "
    "don won ' t s y all rock n roll ( ) [ ] { } < > - / : = & @ # $ % _ "
    "https example com user hash ##tag mention "
    "0 1 2 3 5 7 ##0 ##00 14 ##159 100 2026 12 30 45 € £ ¥ "
    "emoji symbols tabs newlines nbsp zero width nul bell kept whole too is not "
    "mask unk sep MASK ##a anti ##dis ##establish ##ment ##arian ##ism super ##cal "
    "English mixed ##ed line separator para soft ##hyphen e combining it stop "
    "full ##width inside ligature roman titlecase"
).split()


def vocabulary():
    """The WordPiece vocabulary: the tiny Google one, then `EXTRA` (first
    occurrence kept)."""
    with open(BASE_VOCAB, encoding="utf-8") as f:
        tokens = [line.strip() for line in f if line.strip()]
    for token in EXTRA:
        if token not in tokens:
            tokens.append(token)
    return tokens


# A jieba-like word segmenter: the longest of `WORDS` at each position, and
# whatever lies between as one chunk (spaces included), as `jieba.lcut` keeps it.
WORDS = ("北京", "中国", "首都", "自然语言", "自然", "处理", "今天", "天气", "hello", "play")


def segment(text):
    chunks, other, i = [], "", 0
    while i < len(text):
        word = max((w for w in WORDS if text.startswith(w, i)), key=len, default=None)
        if word is None:
            other += text[i]
            i += 1
            continue
        if other:
            chunks.append(other)
            other = ""
        chunks.append(word)
        i += len(word)
    if other:
        chunks.append(other)
    return chunks


TEXTS = list(MULTILINGUAL) + [
    "北京是中国的首都。",
    "我爱自然语言处理！",
    "今天天气很好，我们去公园吧？",
    "《三体》是刘慈欣写的科幻小说。",
    "中文English混合mixed文本123",
    "Hello world, 你好世界!",
    "HELLO World playing tokenizer tokenizers",
    "hello play playing player",
    "",
    "   ",
    "\u3000\u3000全角空格",
    "１２３ＡＢＣ full-width",
    "3.14159 1,000 50% 2026-12-06 100.5",
    "unaffable unaffables unaffableing",
    "supercalifragilisticexpialidocious playingx",
    "x" * 250,
    "play" * 60,
    "line\u2028separator\u2029para\x1cfile\x85next",
    "soft\u00adhyphen e\u0301 combining \ufb01 ligature",
    "\u0130\u0130 \u01c5 titlecase \u216b roman",
    "a\ufffdb\x00c",
    "don't stop, it's 3.5 un ##able",
    "[CLS] inside [SEP] and [MASK]",
    "𠀀𪚥 ext-B, \u2f00 radical, \uf900 compatibility",
    "emoji 😀 and  double  spaces ",
    "'' \"quotes\" (a) {b} <c> [d]",
]

# The texts the tokenizers built with `token_translate`, without start or end
# tokens and with a short `word_maxlen` see (the others see all of `TEXTS`).
FEW_TEXTS = [TEXTS[i] for i in (0, 2, 8, 9, 11, 14, 15, 18, 20, 22, 28, 29, 31, 35, 38)]

# (first, second, maxlen, pattern, truncate_from) for `encode`.
PAIRS = [
    ("北京是中国的首都。", "我爱自然语言处理！", 10, "S*E*E", "right"),
    ("北京是中国的首都。", "我爱自然语言处理！", 10, "S*E*E", "left"),
    ("北京是中国的首都。", "我爱自然语言处理！", 10, "S*ES*E", "right"),
    ("北京是中国的首都。", "我爱自然语言处理！", 11, "S*ES*E", "left"),
    ("北京是中国的首都。", "我爱自然语言处理！", 9, "S*E*E", 2),
    ("北京是中国的首都。", "我爱自然语言处理！", 9, "S*E*E", -1),
    ("北京是中国的首都。", "我爱自然语言处理！", 100, "S*E*E", "right"),
    ("北京是中国的首都。", "我爱自然语言处理！", None, "S*E*E", "right"),
    ("hello world", "北京是中国的首都。今天天气很好", 8, "S*E*E", "right"),
    ("今天天气很好", "hello", 5, "S*E*E", "right"),
    ("今天天气很好", "hello", 3, "S*E*E", "right"),
    ("今天天气很好", "", 6, "S*E*E", "right"),
    ("", "", 4, "S*E*E", "right"),
    ("", "", 1, "S*E*E", "right"),
    ("今天", None, 3, "S*E*E", "right"),
    ("今天天气很好", None, 5, "S*E*E", "left"),
    ("今天天气很好", None, 5, "S*E*E", -1),
    ("今天天气很好", None, 1, "S*E*E", "right"),
    ("今天天气很好", None, 0, "S*E*E", "right"),
    (["[CLS]", "今", "天", "[SEP]"], ["[CLS]", "好", "[SEP]"], 5, "S*E*E", "right"),
    (["今", "天", "天", "气"], ["好", "的"], 4, "S*ES*E", "right"),
    (["今", "天"], None, None, "S*E*E", "right"),
]

# Token lists for `decode`: spacing around CJK, punctuation, contractions, decimals.
DECODE_TOKENS = [
    ["[CLS]", "今", "天", "天", "气", "很", "好", "，", "hello", "world", "！", "[SEP]"],
    ["hello", "'", "s", "world", "'", "t", "don", "'", "t", "y", "'", "all"],
    ["3", ".", "14", "##159", "and", "1", ",", "100", ".", "5", "2", "##0", "%"],
    ["(", "hello", ")", "[", "world", "]", "-", "play", "/", "=", "<", "a", ">"],
    ["《", "三", "体", "》", "“", "hello", "”", "…", "北京", "hello", "中国"],
    ["un", "##aff", "##able", "##s", "[UNK]", "[MASK]", "play", "##ing"],
    ["##ing", "play", "—", "the", "·", "day"],
    [],
]


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as error:  # recorded: the same calls must fail the same way
        return {"error": type(error).__name__}


def _runs(predicate, stop=0x10000):
    """The code points below `stop` where `predicate` holds, as [first, last] runs."""
    runs = []
    for code in range(stop):
        if predicate(chr(code)):
            if runs and runs[-1][1] == code - 1:
                runs[-1][1] = code
            else:
                runs.append([code, code])
    return runs


def _attributes(tokenizer):
    names = ["_token_pad", "_token_unk", "_token_mask", "_token_start", "_token_end"]
    names += [name + "_id" for name in names] + ["_vocab_size"]
    return {name: getattr(tokenizer, name, "<absent>") for name in names}


def _tokenizer_cases(module, tokens, folder):
    vocab = {token: i for i, token in enumerate(tokens)}
    configs = {
        "cased": ({}, TEXTS),
        "lower": ({"do_lower_case": True}, TEXTS),
        "pre": ({"pre_tokenize": segment}, TEXTS),
        "pre_lower": ({"pre_tokenize": segment, "do_lower_case": True}, TEXTS),
        "translate": (
            {"token_translate": {"中": "国", "hello": "[unused2]", "##ing": "##er"}},
            FEW_TEXTS,
        ),
        "bare": ({"token_start": None, "token_end": None}, FEW_TEXTS),
        "no_start": ({"token_start": None}, FEW_TEXTS),
        "word_maxlen": ({"word_maxlen": 8}, FEW_TEXTS),
    }
    out = {}
    for name, (kwargs, texts) in configs.items():
        tokenizer = module.Tokenizer(dict(vocab), **kwargs)
        rows = []
        for text in texts:
            tokens_ = _call(tokenizer.tokenize, text)
            encoded = _call(tokenizer.encode, text)
            ids = encoded[0] if isinstance(encoded, tuple) else []
            rows.append(
                {
                    "tokens": tokens_,
                    "encode": encoded,
                    "decode": _call(tokenizer.decode, ids),
                    "ids_to_tokens": _call(tokenizer.ids_to_tokens, ids),
                    "rematch": _call(tokenizer.rematch, text, tokens_)
                    if isinstance(tokens_, list)
                    else None,
                    "tokenize_maxlen_6": _call(tokenizer.tokenize, text, 6),
                }
            )
        out[f"tokenizer/{name}/texts"] = rows
        out[f"tokenizer/{name}/pairs"] = [
            _call(
                tokenizer.encode,
                list(first) if isinstance(first, list) else first,
                list(second) if isinstance(second, list) else second,
                maxlen=maxlen,
                pattern=pattern,
                truncate_from=truncate_from,
            )
            for first, second, maxlen, pattern, truncate_from in PAIRS
        ]
        out[f"tokenizer/{name}/attributes"] = _attributes(tokenizer)

    tokenizer = module.Tokenizer(dict(vocab))
    out["tokenizer/decode"] = [
        [_call(tokenizer.decode, tokenizer.tokens_to_ids(t)), _call(tokenizer.decode, [], t)]
        for t in DECODE_TOKENS
    ]
    out["tokenizer/token_to_id"] = [
        tokenizer.token_to_id(t) for t in ["[CLS]", "中", "##国", "nope", "", "Hello"]
    ]
    out["tokenizer/id_to_token"] = [_call(tokenizer.id_to_token, i) for i in (0, 5, 150, 10**6)]

    # From a vocabulary file, and special tokens missing from the vocabulary.
    path = os.path.join(folder, "vocab.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(tokens) + "\n")
    from_file = module.Tokenizer(path, do_lower_case=True)
    out["tokenizer/from_file"] = [from_file.encode(text) for text in TEXTS[:20]]
    no_mask = module.Tokenizer({t: i for i, t in enumerate(tokens) if t != "[MASK]"})
    out["tokenizer/no_mask/attributes"] = _attributes(no_mask)

    # The static helpers, over the Basic Multilingual Plane and the vocabulary.
    T = module.Tokenizer
    out["helpers/_is_space"] = _runs(T._is_space)
    out["helpers/_is_punctuation"] = _runs(T._is_punctuation)
    out["helpers/_is_cjk_character"] = _runs(T._is_cjk_character, 0x30000)
    out["helpers/_is_control"] = _runs(T._is_control)
    out["helpers/_cjk_punctuation"] = T._cjk_punctuation()
    out["helpers/_is_redundant"] = [bool(T._is_redundant(t)) for t in tokens]
    out["helpers/_is_special"] = [T._is_special(t) for t in tokens + ["", "[", "]", "[x"]]
    out["helpers/stem"] = [T.stem(t) for t in tokens + ["##", "#", ""]]
    return out


def _vocab_file_cases(module, tokens, folder):
    # Blank and space-only lines, extra columns, a repeated token, CRLF endings.
    lines = tokens[:40] + ["", "word\t123 extra", "   ", "[CLS]", "tail\r"] + tokens[40:]
    path = os.path.join(folder, "messy_vocab.txt")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(lines) + "\r\n")
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    out = {
        "load_vocab/plain": list(module.load_vocab(path).items()),
        "load_vocab/simplified": [
            list(d.items()) if isinstance(d, dict) else d
            for d in module.load_vocab(path, simplified=True)
        ],
        "load_vocab/startswith": [
            list(d.items()) if isinstance(d, dict) else d
            for d in module.load_vocab(path, simplified=True, startswith=specials)
        ],
    }
    simplified, _ = module.load_vocab(path, simplified=True, startswith=specials)
    saved = os.path.join(folder, "saved_vocab.txt")
    module.save_vocab(saved, simplified)
    with open(saved, "rb") as f:
        out["save_vocab"] = f.read().decode("utf-8")
    return out


SP_TEXTS = [
    "hello world",
    "Hello World, playing tokenizers!",
    "北京是中国的首都。",
    "我爱自然语言处理！今天天气很好",
    "中文English混合mixed文本123",
    "unknown ✓ symbol and 𠀀",
    "",
    "   spaces   everywhere   ",
    "[CLS] [SEP] [MASK] written out",
    "emoji 😀 café naïve",
]
SP_TRAINING = [
    "hello world",
    "hello there world",
    "the world is playing with tokenizers",
    "tokenizers split text into pieces",
    "北京是中国的首都",
    "我爱自然语言处理",
    "今天天气很好我们去公园吧",
    "中文和English混合的文本",
    "numbers 123 456 7890",
    "playing player played plays",
]


def train_sp_model(path=SP_MODEL):
    """Train the tiny SentencePiece model (writes `path`)."""
    import sentencepiece as spm

    prefix = path[: -len(".model")]
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(SP_TRAINING * 10),
        model_prefix=prefix,
        vocab_size=160,
        hard_vocab_limit=False,
        model_type="unigram",
        character_coverage=1.0,
        normalization_rule_name="identity",  # no NFKC table: a 2 KB file
        pad_id=0,
        unk_id=1,
        bos_id=-1,
        eos_id=-1,
        control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        num_threads=1,
        minloglevel=2,
    )
    os.remove(prefix + ".vocab")


def _sp_cases(module, path):
    configs = {
        "default": {},
        "translate": {"token_translate": {"▁hello": "[MASK]"}},
        "pre": {"pre_tokenize": segment},
        "no_start": {"token_start": None},
    }
    out = {}
    for name, kwargs in configs.items():
        tokenizer = module.SpTokenizer(path, **kwargs)
        rows = []
        for text in SP_TEXTS:
            encoded = _call(tokenizer.encode, text)
            ids = encoded[0] if isinstance(encoded, tuple) else []
            rows.append(
                {
                    "tokens": _call(tokenizer.tokenize, text),
                    "encode": encoded,
                    "decode": _call(tokenizer.decode, ids),
                    "tokenize_maxlen_5": _call(tokenizer.tokenize, text, 5),
                }
            )
        out[f"sp/{name}/texts"] = rows
        out[f"sp/{name}/pairs"] = [
            _call(tokenizer.encode, SP_TEXTS[i], SP_TEXTS[j], maxlen=m, truncate_from=side)
            for i, j, m, side in [(1, 3, 12, "right"), (1, 3, 12, "left"), (2, 6, 4, "right")]
        ]
        out[f"sp/{name}/attributes"] = _attributes(tokenizer)
    tokenizer = module.SpTokenizer(path)
    size = tokenizer._vocab_size
    out["sp/id_to_token"] = [tokenizer.id_to_token(i) for i in range(size + 3)]
    out["sp/_is_special"] = [bool(tokenizer._is_special(i)) for i in range(size)]
    out["sp/_is_decodable"] = [bool(tokenizer._is_decodable(i)) for i in range(size + 3)]
    out["sp/token_to_id"] = [
        tokenizer.token_to_id(t) for t in ["[CLS]", "<pad>", "<unk>", "▁hello", "nope", ""]
    ]
    return out


def record(module, sentencepiece=True):
    """The results of the same calls on `module` (bert4keras's `tokenizers`, or
    a module with its names), as JSON values; the `SpTokenizer` ones (keys
    `sp/...`) only with `sentencepiece`."""
    tokens = vocabulary()
    with tempfile.TemporaryDirectory() as folder:
        out = {"vocabulary": tokens}
        out.update(_tokenizer_cases(module, tokens, folder))
        out.update(_vocab_file_cases(module, tokens, folder))
        if sentencepiece:
            out.update(_sp_cases(module, SP_MODEL))
    return json.loads(json.dumps(out, ensure_ascii=False))


def compute(sentencepiece=True):
    from bert4keras import tokenizers

    return record(tokenizers, sentencepiece)


def load():
    with open(REFERENCE, encoding="utf-8") as f:
        return json.load(f)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    os.makedirs(FIXTURES, exist_ok=True)
    if "--train-sp" in argv or not os.path.exists(SP_MODEL):
        train_sp_model()
    result = compute()
    with open(REFERENCE, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {REFERENCE} ({os.path.getsize(REFERENCE)} bytes), {SP_MODEL}")


if __name__ == "__main__":
    main()
