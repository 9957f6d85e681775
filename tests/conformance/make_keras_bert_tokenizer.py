"""Record what keras-bert 0.89's `Tokenizer` gives on a fixed corpus, the
reference `kerastack.tokenizers.compat.Tokenizer` (and so
`kerastack.bert.compat.Tokenizer`) is checked against on every lane.

Run from the repository root in the tfkeras lane's environment, where the
real keras-bert is installed (`--no-deps`, on tf-keras):

    TF_KERAS=1 TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2 \\
        .tox/tfkeras/bin/python -m tests.conformance.make_keras_bert_tokenizer

It writes tests/conformance/fixtures/keras_bert/tokenizer.json: the texts
and, per setting (`uncased`, `cased`), each text's `tokenize`, `encode`,
pair encodings cut to a `max_len`, `decode` of those, and `rematch` of the
tokens. `record(Tokenizer)` makes the same calls with any class of
keras-bert's `Tokenizer` API; tests/tokenizers/test_keras_bert_tokenizer.py
runs it on kerastack's and compares; tests/portable's tfkeras test checks
that `compute()` still gives the file. This module imports neither at its
top.

The texts: bert4keras's recorded corpus (tests/conformance/
make_bert4keras_tokenizers.py: Chinese, Japanese, Korean, accents, numbers,
control and zero-width characters, long and unknown words) and every 15th
docstring of the standard library's modules (`corpus.corpus()`'s first
part, fixed here once recorded). The vocabulary is the tiny Google one plus
bert4keras's `EXTRA`: most words are not in it, which is what differs from
Google's rule.
"""

import json
import os

from tests.conformance import make_bert4keras_tokenizers as bert4keras_references

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "fixtures", "keras_bert", "tokenizer.json")

# The max_len of pair encodings, in turn.
PAIR_LENGTHS = (8, 16, 40)
# Texts up to this long have their pieces and rematch recorded.
SHORT = 300


def _call(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except Exception as error:  # recorded: the same calls must fail the same way
        return {"error": type(error).__name__}


def _ids(tokenizer, text):
    return tokenizer.encode(text)[0]


def texts():
    """The corpus: bert4keras's recorded texts, then every 10th standard
    library docstring (each cut to 600 characters)."""
    from tests.conformance.corpus import corpus

    library = [text for text in corpus() if text not in bert4keras_references.TEXTS]
    docstrings = sorted(set(library) - set(bert4keras_references.MULTILINGUAL))
    return list(bert4keras_references.TEXTS) + [text[:600] for text in docstrings[::10]]


def record(tokenizer_class, corpus):
    """`{setting: {...}}` from `tokenizer_class` (keras-bert's `Tokenizer`
    API) on `corpus`."""
    vocabulary = bert4keras_references.vocabulary()
    token_dict = {token: index for index, token in enumerate(vocabulary)}
    results = {}
    for setting, cased in (("uncased", False), ("cased", True)):
        tokenizer = tokenizer_class(token_dict, cased=cased)
        tokens = [_call(tokenizer.tokenize, text) for text in corpus]
        encoded = [_call(_ids, tokenizer, text) for text in corpus]
        pairs = []
        for index in range(0, len(corpus) - 1, 3):
            first, second = corpus[index], corpus[index + 1]
            max_len = PAIR_LENGTHS[index % len(PAIR_LENGTHS)]
            pair = _call(tokenizer.encode, first, second, max_len=max_len)
            decoded = _call(tokenizer.decode, pair[0]) if isinstance(pair, tuple) else None
            pairs.append([index, max_len, pair, decoded])
        # The alignment costs length x length: the short texts only.
        rematched = [
            _call(tokenizer_class.rematch, text, pieces[1:-1], cased=cased)
            if isinstance(pieces, list) and len(text) <= SHORT
            else None
            for text, pieces in zip(corpus, tokens, strict=True)
        ]
        results[setting] = {
            # The pieces of the short texts (the ids of all).
            "tokenize": [
                t if len(text) <= SHORT else None for text, t in zip(corpus, tokens, strict=True)
            ],
            "encode": encoded,
            "pairs": pairs,
            "rematch": rematched,
        }
    return json.loads(json.dumps(results))  # tuples as lists, as the file holds them


def compute():
    """The reference from the real keras-bert (needs it installed)."""
    from keras_bert import Tokenizer

    corpus = texts()
    return {"texts": corpus, "results": record(Tokenizer, corpus)}


def load():
    with open(REFERENCE, encoding="utf-8") as file:
        return json.load(file)


def main():
    os.makedirs(os.path.dirname(REFERENCE), exist_ok=True)
    reference = compute()
    with open(REFERENCE, "w", encoding="utf-8") as file:
        json.dump(reference, file, ensure_ascii=False, separators=(",", ":"))
    print(f"wrote {REFERENCE}: {len(reference['texts'])} texts")


if __name__ == "__main__":
    main()
