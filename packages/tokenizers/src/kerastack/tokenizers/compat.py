"""keras-bert's tokenizer names (`Tokenizer`, `get_base_dict`,
`load_vocabulary`, the `TOKEN_*` constants), with no Keras.

`Tokenizer` takes keras-bert's arguments and returns its formats (lists,
`(indices, segments)` pairs). Its pieces are Google BERT's (see
`kerastack.tokenizers.BertTokenizer`); one difference from keras-bert's own
tokenizer remains: a word no piece spells is one `[UNK]` here (keras-bert
split it into characters first), and `tokenize` shows such a word as it was
written, as keras-bert showed unknown characters. `kerastack.bert.compat`
exports the same names beside keras-bert's model builders.
"""

from kerastack.tokenizers.bert_tokenizer import (
    check_bool,
    check_int,
    check_text,
    check_token_dict,
    read_vocabulary,
    wordpiece_engine,
)

__all__ = [
    "TOKEN_CLS",
    "TOKEN_MASK",
    "TOKEN_PAD",
    "TOKEN_SEP",
    "TOKEN_UNK",
    "Tokenizer",
    "get_base_dict",
    "load_vocabulary",
]

TOKEN_PAD = ""  # keras-bert's base dictionary: the padding token is ""
TOKEN_UNK = "[UNK]"
TOKEN_CLS = "[CLS]"
TOKEN_SEP = "[SEP]"
TOKEN_MASK = "[MASK]"


class Tokenizer:
    """keras-bert's `Tokenizer(token_dict, ...)`.

    Args:
        token_dict: `{token: id}`.
        token_cls, token_sep, token_unk: the special tokens.
        pad_index: the id `encode` pads with.
        cased: keep case and accents.

    Example:

    >>> token_dict = get_base_dict()
    >>> for token in ["un", "##aff", "##able"]:
    ...     token_dict[token] = len(token_dict)
    >>> tokenizer = Tokenizer(token_dict)
    >>> tokenizer.tokenize("Unaffable")
    ['[CLS]', 'un', '##aff', '##able', '[SEP]']
    >>> tokenizer.encode("unaffable", "un", max_len=8)  # (indices, segments)
    ([2, 5, 6, 7, 3, 5, 3, 0], [0, 0, 0, 0, 0, 1, 1, 0])
    >>> tokenizer.rematch("unaffable")
    [None, (0, 2), (2, 5), (5, 9), None]
    """

    def __init__(
        self,
        token_dict,
        token_cls="[CLS]",
        token_sep="[SEP]",
        token_unk="[UNK]",
        pad_index=0,
        cased=False,
    ):
        token_dict = check_token_dict(token_dict)
        check_text(token_cls, "token_cls")
        check_text(token_sep, "token_sep")
        check_text(token_unk, "token_unk")
        missing = [t for t in (token_cls, token_sep, token_unk) if t not in token_dict]
        if missing:
            raise ValueError(f"token_dict lacks the special tokens {missing}.")
        self._token_dict = token_dict
        self._token_cls, self._token_sep, self._token_unk = token_cls, token_sep, token_unk
        self._pad_index = check_int("pad_index", pad_index, minimum=0)
        self._cased = check_bool("cased", cased)
        specials = [token_cls, token_sep, token_unk, "[PAD]", "[MASK]"]
        self._engine = wordpiece_engine(
            self._token_dict, not cased, not cased, 100, token_unk, specials
        )

    def _word_pieces(self, text, argument="first"):
        encoding = self._engine.encode(check_text(text, argument), add_special_tokens=False)
        return [
            text[start:end] if token == self._token_unk and text[start:end] != token else token
            for token, (start, end) in zip(encoding.tokens, encoding.offsets, strict=True)
        ]

    def _pack(self, first, second=None, max_len=None):
        max_len = check_int("max_len", max_len, allow_none=True)
        if max_len is not None and max_len < (2 if second is None else 3):
            raise ValueError(f"max_len={max_len} leaves no room for the special tokens.")
        first = self._word_pieces(first)
        second = None if second is None else self._word_pieces(second, "second")
        if max_len is not None:
            if second is None:
                del first[max(max_len - 2, 0) :]
            else:
                while len(first) + len(second) > max_len - 3:
                    (first if len(first) > len(second) else second).pop()
        tokens = [self._token_cls] + first + [self._token_sep]
        segments = [0] * len(tokens)
        if second is not None:
            tokens += second + [self._token_sep]
            segments += [1] * (len(second) + 1)
        return tokens, segments

    def tokenize(self, first, second=None):
        """`['[CLS]', pieces..., '[SEP]']`, and the second text's pieces and
        `'[SEP]'` after, for a pair."""
        return self._pack(first, second)[0]

    def encode(self, first, second=None, max_len=None):
        """`(indices, segments)`: ids (unknown pieces as `token_unk`'s id) and
        segment ids, both cut (longest text first) and padded to `max_len`."""
        indices, segments = self._encode_unpadded(first, second, max_len)
        if max_len is not None:
            padding = max_len - len(indices)
            indices += [self._pad_index] * padding
            segments += [0] * padding
        return indices, segments

    def _encode_unpadded(self, first, second=None, max_len=None):
        tokens, segments = self._pack(first, second, max_len)
        unk = self._token_dict[self._token_unk]
        return [self._token_dict.get(token, unk) for token in tokens], segments

    def rematch(self, text, tokens=None):
        """For each token of `tokenize(text)` (or of `tokens`, which must be
        that list), the `(start, end)` span of `text` it came from; special
        tokens get None."""
        encoding = self._engine.encode(check_text(text), add_special_tokens=False)
        spans = [None] + [tuple(offset) for offset in encoding.offsets] + [None]
        if tokens is not None and len(tokens) != len(spans):
            raise ValueError(
                f"tokens has {len(tokens)} entries but tokenize(text) gives {len(spans)}."
            )
        return spans


def get_base_dict():
    """keras-bert's dictionary of special tokens, `{token: id}`.

    Example:

    >>> get_base_dict()
    {'': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, '[MASK]': 4}
    """
    return {TOKEN_PAD: 0, TOKEN_UNK: 1, TOKEN_CLS: 2, TOKEN_SEP: 3, TOKEN_MASK: 4}


def load_vocabulary(vocab_path):
    """`{token: id}` of a `vocab.txt` (see
    `kerastack.tokenizers.read_vocabulary`).

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
    >>> with open(path, "w", encoding="utf-8") as file:
    ...     _ = file.write("[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\nhello\\n")
    >>> load_vocabulary(path)
    {'[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, 'hello': 4}
    """
    return read_vocabulary(vocab_path)
