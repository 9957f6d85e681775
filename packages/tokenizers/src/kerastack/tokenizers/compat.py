"""keras-bert's tokenizer names (`Tokenizer`, `get_base_dict`,
`load_vocabulary`, the `TOKEN_*` constants), with no Keras.

`Tokenizer` is keras-bert 0.89's, rule for rule, so that a model fine-tuned
with keras-bert gets the same ids: its own splitting of text (punctuation
by ASCII ranges and Unicode category P, CJK characters, whitespace,
control characters dropped, accents stripped and lower case unless
`cased`), and its word pieces, where a word no piece spells is not one
`[UNK]` (Google's rule, which `kerastack.tokenizers.BertTokenizer` keeps)
but is cut into the longest known pieces and single characters, and only
the characters not in the vocabulary become `[UNK]`. `rematch` is
keras-bert's alignment of tokens to text, and `decode` its inverse of
`encode`. Only checks are added: arguments of the wrong type or out of
range are errors naming them (each also of the class keras-bert raised, so
old `except` clauses keep working); `token_dict` must hold the three
special tokens (keras-bert failed later, at the first unknown piece) and is
copied (keras-bert kept the caller's dict and saw later additions); a
`max_len` too short for the special tokens is an error (keras-bert returned
more ids than `max_len`). `kerastack.bert.compat` exports the
same names beside keras-bert's model builders.
"""

import unicodedata

from kerastack.tokenizers.bert_tokenizer import (
    check_bool,
    check_int,
    check_text,
    check_token_dict,
    read_vocabulary,
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

# The CJK ideograph blocks keras-bert (and Google BERT) split around.
_CJK_BLOCKS = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


class _TooShortError(ValueError, IndexError):
    """`max_len` leaves no room: keras-bert popped from an empty list."""


class _UnknownIdError(ValueError, KeyError):
    """An id outside the dictionary: keras-bert's lookup raised KeyError."""

    __str__ = ValueError.__str__


def _is_punctuation(char):
    code = ord(char)
    ascii_sign = 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126
    return ascii_sign or unicodedata.category(char).startswith("P")


def _is_cjk(char):
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_BLOCKS)


def _is_space(char):
    return char in " \n\r\t" or unicodedata.category(char) == "Zs"


def _is_control(char):
    return unicodedata.category(char) in ("Cc", "Cf")


def _align(text, decoded):
    """For each position j of `decoded`, the position of `text` (a list of
    one string per character) it lines up with: the cheapest edit script
    turning `text` into `decoded` (one per inserted, deleted or changed
    character), ties broken as keras-bert's `rematch` broke them (a change,
    then a deletion, then an insertion)."""
    rows, columns = len(text), len(decoded)
    before = list(range(columns + 1))  # the costs of row i - 1
    moves = [[None] * (columns + 1) for _ in range(rows + 1)]
    for i in range(1, rows + 1):
        costs = [i] + [0] * columns
        for j in range(1, columns + 1):
            cost, move = before[j - 1], (i - 1, j - 1)
            if text[i - 1] != decoded[j - 1]:
                if before[j] < cost:
                    cost, move = before[j], (i - 1, j)
                if costs[j - 1] < cost:
                    cost, move = costs[j - 1], (i, j - 1)
                cost += 1
            costs[j], moves[i][j] = cost, move
        before = costs
    matches = [0] * (columns + 1)
    position = (rows, columns)
    while position is not None:
        i, j = position
        matches[j] = i
        position = moves[i][j]
    return matches


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
    >>> tokenizer.tokenize("unafx")  # unknown characters become pieces of their own
    ['[CLS]', 'un', '##a', '##f', '##x', '[SEP]']
    >>> tokenizer.encode("unaffable", "un", max_len=8)  # (indices, segments)
    ([2, 5, 6, 7, 3, 5, 3, 0], [0, 0, 0, 0, 0, 1, 1, 0])
    >>> tokenizer.decode([2, 5, 6, 7, 3, 5, 3, 0])
    (['un', '##aff', '##able'], ['un'])
    >>> Tokenizer.rematch("UnAffable!", ["un", "##aff", "##able", "!"])
    [(0, 2), (2, 5), (5, 9), (9, 10)]
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
        self._token_dict_inv = {index: token for token, index in token_dict.items()}
        self._token_cls, self._token_sep, self._token_unk = token_cls, token_sep, token_unk
        self._pad_index = check_int("pad_index", pad_index, minimum=0)
        self._cased = check_bool("cased", cased)

    # -- text to pieces ---------------------------------------------------------------

    def _words(self, text):
        """keras-bert's words: the text (accents stripped and lower-cased
        unless cased) with spaces around punctuation and CJK characters,
        control characters dropped, split at whitespace."""
        if not self._cased:
            text = unicodedata.normalize("NFD", text)
            text = "".join(char for char in text if unicodedata.category(char) != "Mn").lower()
        parts = []
        for char in text:
            if _is_punctuation(char) or _is_cjk(char):
                parts.append(f" {char} ")
            elif _is_space(char):
                parts.append(" ")
            elif char in ("\x00", "\ufffd") or _is_control(char):
                continue
            else:
                parts.append(char)
        return "".join(parts).split()

    def _pieces(self, word):
        """The longest known pieces from the left (`##` inside the word); a
        character that starts no known piece is a piece by itself."""
        if word in self._token_dict:
            return [word]
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self._token_dict:
                    break
            else:
                end = start + 1
                piece = word[start:end] if start == 0 else "##" + word[start:end]
            pieces.append(piece)
            start = end
        return pieces

    def _word_pieces(self, text, argument="first"):
        text = check_text(text, argument)
        return [piece for word in self._words(text) for piece in self._pieces(word)]

    def _pack(self, first, second=None, max_len=None):
        max_len = check_int("max_len", max_len, allow_none=True)
        if max_len is not None and max_len < (2 if second is None else 3):
            raise _TooShortError(f"max_len={max_len} leaves no room for the special tokens.")
        first = self._word_pieces(first)
        second = None if second is None else self._word_pieces(second, "second")
        if max_len is not None:
            if second is None:
                del first[max_len - 2 :]
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
        `'[SEP]'` after, for a pair (pieces not in the dictionary as they
        are, `encode` maps them to `token_unk`)."""
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

    def decode(self, ids):
        """The tokens of `encode`'s indices: the first text's, or a pair
        `(first, second)` when a second text follows the first `[SEP]`
        (padding, from the first `pad_index` on, left out)."""
        ids = list(ids)
        sep_id = self._token_dict[self._token_sep]
        if sep_id not in ids:
            raise ValueError(f"decode needs the {self._token_sep} token (id {sep_id}) in ids.")
        unknown = [i for i in ids if i not in self._token_dict_inv]
        if unknown:
            raise _UnknownIdError(f"ids {unknown[:5]} are not in the dictionary.")
        sep = ids.index(sep_id)
        stop = ids.index(self._pad_index) if self._pad_index in ids else len(ids)
        tokens = [self._token_dict_inv[i] for i in ids]
        first = tokens[1:sep]
        if sep < stop - 1:
            return first, tokens[sep + 1 : stop - 1]
        return first

    # -- tokens back to text ------------------------------------------------------------

    @staticmethod
    def rematch(text, tokens, cased=False, unknown_token=TOKEN_UNK):
        """keras-bert's `rematch`: the `(start, end)` span of `text` each of
        `tokens` (word pieces, without `[CLS]` / `[SEP]`) comes from, found
        by aligning the text with the tokens joined back into words (an
        unknown token stands for a word's remaining characters)."""
        text = check_text(text)
        decoded, spans = "", []
        for token in tokens:
            check_text(token, "tokens")
            start = len(decoded)
            token = "#" if token == unknown_token else token
            token = token if cased else token.lower()
            if len(token) > 2 and token.startswith("##"):
                token = token[2:]
            elif decoded:
                token, start = " " + token, start + 1
            decoded += token
            spans.append([start, len(decoded)])
        text = text.rstrip()
        heading = 0
        while heading < len(text) and _is_space(text[heading]):
            heading += 1
        text = text[heading:]
        # Compared one character at a time (a lower case may be longer).
        folded = [char if cased else char.lower() for char in text]
        matches = _align(folded, decoded)
        intervals = [[matches[start], matches[end]] for start, end in spans]
        for index, interval in enumerate(intervals):
            token = tokens[index]
            if len(token) > 2 and token.startswith("##"):
                token = token[2:]
            written = text[interval[0] : interval[1]]
            if (written if cased else written.lower()) == (token if cased else token.lower()):
                continue
            # A token that does not read as its text grows to whole words.
            border = intervals[index - 1][1] if index else 0
            while interval[0] > border and not _is_space(text[interval[0] - 1]):
                interval[0] -= 1
            border = intervals[index + 1][0] if index + 1 < len(intervals) else len(text)
            while interval[1] < border and not _is_space(text[interval[1]]):
                interval[1] += 1
        return [(start + heading, end + heading) for start, end in intervals]


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
