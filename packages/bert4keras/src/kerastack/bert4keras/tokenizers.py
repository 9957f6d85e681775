"""bert4keras's `tokenizers` module on kerastack: the BERT WordPiece tokenizer
(`Tokenizer`), the SentencePiece wrapper (`SpTokenizer`), their base class and
the vocabulary helpers `load_vocab` / `save_vocab`.

Plain Python, no Keras: token ids, segment ids, tokens, decoded text and
`rematch` spans equal bert4keras 0.11.5's on the recorded corpus
(`tests/conformance/fixtures/bert4keras/tokenizers.json`). The private
attributes that bert4keras scripts read (`_token_start_id`, `_token_end_id`,
`_token_pad_id`, `_token_mask_id`, `_token_unk_id`, `_token_dict`,
`_vocab_size`, `_do_lower_case`) and the `_is_*` helpers keep their names.

Where it differs from bert4keras 0.11.5 (only where bert4keras fails or has a
side effect):

- `encode` never changes the token lists it is given: bert4keras truncates a
  list passed as `first_text` / `second_text` in place.
- `Tokenizer.token_to_id` with a vocabulary without `[UNK]`: known tokens get
  their ids and an unknown one raises `KeyError`; bert4keras raises
  `AttributeError` for every token.
- `SpTokenizer` accepts a model without a padding piece (`pad_id() == -1`):
  `_token_pad` stays `'[PAD]'`; bert4keras fails in its constructor.
- `vocab_size` is also a public property (bert4keras has `_vocab_size` only).
- bert4keras 0.11.5 has no `TrieTokenizer` (later releases do); neither has
  this module.
"""

import os
import re
import unicodedata

__all__ = ["SpTokenizer", "Tokenizer", "TokenizerBase", "load_vocab", "save_vocab"]

# Full-width and CJK punctuation after which `Tokenizer.decode` writes no space
# (with `+-/={(<[`): the set bert4keras uses.
_CJK_PUNCTUATION = (
    "\uff02\uff03\uff04\uff05\uff06\uff07\uff08\uff09\uff0a\uff0b\uff0c\uff0d\uff0f"
    "\uff1a\uff1b\uff1c\uff1d\uff1e\uff20\uff3b\uff3c\uff3d\uff3e\uff3f\uff40\uff5b"
    "\uff5c\uff5d\uff5e\uff5f\uff60\uff62\uff63\uff64\u3000\u3001\u3003\u3008\u3009"
    "\u300a\u300b\u300c\u300d\u300e\u300f\u3010\u3011\u3014\u3015\u3016\u3017\u3018"
    "\u3019\u301a\u301b\u301c\u301d\u301e\u301f\u3030\u303e\u303f\u2013\u2014\u2018"
    "\u2019\u201b\u201c\u201d\u201e\u201f\u2026\u2027\ufe4f\ufe51\ufe54\u00b7\uff01"
    "\uff1f\uff61\u3002"
)
_NO_SPACE_AFTER = re.compile(
    "(" + "|".join(re.escape(ch) for ch in _CJK_PUNCTUATION + "+-/={(<[") + ") "
)
_CONTRACTION = re.compile("' (re|m|s|t|ve|d|ll) ")
_DECIMAL = re.compile(r"(\d\.) (\d)")
_SPACES = re.compile(" +")

# (first, last) code points of the CJK ideograph blocks bert4keras splits on.
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def _lowercase_and_normalize(text):
    """Lower case, NFD, then drop the combining marks (category Mn)."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def _is_dropped(ch):
    """NUL, U+FFFD and control / format characters vanish from the text."""
    return ord(ch) in (0, 0xFFFD) or Tokenizer._is_control(ch)


def _truncate(maxlen, indices, *sequences):
    """Shorten the non-empty `sequences` in place until their lengths sum to at
    most `maxlen`, each time removing, at its index, one item of the longest
    (the first of equals). `indices` is one index for all or one per sequence."""
    sequences = [seq for seq in sequences if seq]
    if not isinstance(indices, (list, tuple)):
        indices = [indices] * len(sequences)
    while sum(len(seq) for seq in sequences) > maxlen:
        lengths = [len(seq) for seq in sequences]
        longest = lengths.index(max(lengths))
        sequences[longest].pop(indices[longest])
    return sequences


def load_vocab(dict_path, encoding="utf-8", simplified=False, startswith=None):
    """Read a BERT vocabulary file: token -> id, ids in line order.

    Each line's first whitespace-separated field is the token (a blank line
    gives the token `''`). A token seen again gets the current size of the
    dictionary as its new id, as in bert4keras.

    With `simplified=True`, returns `(token_dict, keep_tokens)`: the tokens
    listed in `startswith` first, then, in id order, every token that
    `Tokenizer` can produce (`Tokenizer._is_redundant` drops longer tokens
    holding CJK characters or punctuation, `[CLS]`-like tokens among them),
    renumbered from 0; `keep_tokens`
    holds each kept token's id in the file (to slice an embedding matrix).

    Args:
        dict_path: path of the vocabulary file, one token per line.
        encoding: the file's encoding.
        simplified: drop the tokens `Tokenizer` never produces.
        startswith: tokens to put first when simplified (e.g. the special
            tokens); each must be in the file.

    Returns:
        The dictionary, or `(token_dict, keep_tokens)` when simplified.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
        >>> with open(path, "w", encoding="utf-8") as f:
        ...     _ = f.write("[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\n中国\\n中\\n国\\n##国\\n,\\n")
        >>> load_vocab(path)["国"]
        6
        >>> token_dict, keep = load_vocab(
        ...     path, simplified=True, startswith=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
        ... )
        >>> token_dict
        {'[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, '中': 4, '国': 5, ',': 6}
        >>> keep
        [0, 1, 2, 3, 5, 6, 8]
    """
    token_dict = {}
    with open(dict_path, encoding=encoding) as reader:
        for line in reader:
            fields = line.split()
            token_dict[fields[0] if fields else line.strip()] = len(token_dict)
    if not simplified:
        return token_dict

    kept_dict, keep_tokens = {}, []
    for token in startswith or []:
        kept_dict[token] = len(kept_dict)
        keep_tokens.append(token_dict[token])
    for token, index in sorted(token_dict.items(), key=lambda item: item[1]):
        if token not in kept_dict and not Tokenizer._is_redundant(token):
            kept_dict[token] = len(kept_dict)
            keep_tokens.append(index)
    return kept_dict, keep_tokens


def save_vocab(dict_path, token_dict, encoding="utf-8"):
    """Write `token_dict` as a vocabulary file: its tokens in id order, one a line.

    Args:
        dict_path: path of the file to write.
        token_dict: token -> id (e.g. a simplified one from `load_vocab`).
        encoding: the file's encoding.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
        >>> save_vocab(path, {"b": 1, "a": 0, "c": 2})
        >>> open(path, encoding="utf-8").read().split()
        ['a', 'b', 'c']
    """
    with open(dict_path, "w", encoding=encoding) as writer:
        for token, _ in sorted(token_dict.items(), key=lambda item: item[1]):
            writer.write(token + "\n")


class TokenizerBase:
    """What bert4keras's tokenizers share: tokens around the text, truncation,
    token translation and `encode` into token and segment ids.

    A subclass supplies `_tokenize(text)`, `token_to_id`, `id_to_token` and
    `decode`.

    Args:
        token_start: token put before the text (`None`: none).
        token_end: token put after the text (`None`: none).
        pre_tokenize: a callable splitting the text into words first (e.g. a
            word segmenter such as jieba's `lcut`), or `None`.
        token_translate: a dict replacing tokens after tokenization (a
            `SpTokenizer` maps them back in `decode`).

    Example:
        >>> class Chars(TokenizerBase):
        ...     def _tokenize(self, text):
        ...         return list(text)
        ...     def token_to_id(self, token):
        ...         return ord(token[0])
        >>> Chars().tokenize("abc")
        ['[CLS]', 'a', 'b', 'c', '[SEP]']
        >>> Chars(token_translate={"b": "B"}).tokenize("abcdef", maxlen=4)
        ['[CLS]', 'a', 'B', '[SEP]']
        >>> Chars().encode("ab", "c")
        ([91, 97, 98, 91, 99, 91], [0, 0, 0, 0, 1, 1])
    """

    def __init__(
        self, token_start="[CLS]", token_end="[SEP]", pre_tokenize=None, token_translate=None
    ):
        self._token_pad = "[PAD]"
        self._token_unk = "[UNK]"
        self._token_mask = "[MASK]"
        self._token_start = token_start
        self._token_end = token_end
        self._pre_tokenize = pre_tokenize
        self._token_translate = token_translate or {}
        self._token_translate_inv = {v: k for k, v in self._token_translate.items()}

    @property
    def vocab_size(self):
        """Number of tokens in the vocabulary (bert4keras: `_vocab_size`)."""
        return self._vocab_size

    def tokenize(self, text, maxlen=None):
        """The text's tokens, translated, between the start and end tokens.

        With `maxlen`, tokens are removed from just before the end token (or
        from the end when there is none) until at most `maxlen` remain.

        Example:
            >>> Tokenizer({"[CLS]": 0, "[SEP]": 1, "[UNK]": 2, "a": 3}).tokenize("a a a", 4)
            ['[CLS]', 'a', 'a', '[SEP]']
        """
        tokens = [self._token_translate.get(token) or token for token in self._tokenize(text)]
        if self._token_start is not None:
            tokens.insert(0, self._token_start)
        if self._token_end is not None:
            tokens.append(self._token_end)
        if maxlen is not None:
            _truncate(maxlen, -(int(self._token_end is not None) + 1), tokens)
        return tokens

    def token_to_id(self, token):
        """A token's id (subclasses)."""
        raise NotImplementedError

    def tokens_to_ids(self, tokens):
        """The ids of a list of tokens.

        Example:
            >>> Tokenizer({"[UNK]": 0, "a": 1}).tokens_to_ids(["a", "b"])
            [1, 0]
        """
        return [self.token_to_id(token) for token in tokens]

    def encode(
        self, first_text, second_text=None, maxlen=None, pattern="S*E*E", truncate_from="right"
    ):
        """Token ids and segment ids (0 for the first text, 1 for the second).

        Args:
            first_text: a text, or a list of tokens (used as they are).
            second_text: an optional second text or token list. With the
                pattern `'S*E*E'` its first token (the start token) is dropped:
                `[CLS] A [SEP] B [SEP]`; with any other pattern it is kept.
            maxlen: the most ids to return. Tokens are removed one at a time
                from the longer sequence (the first one on a tie).
            pattern: `'S*E*E'` or another string (see `second_text`).
            truncate_from: `'right'` (just before the end token), `'left'`
                (just after the start token) or an int, the index to remove at.

        Returns:
            `(token_ids, segment_ids)`, two lists of ints.

        Example:
            >>> vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "我": 4, "你": 5}
            >>> Tokenizer(vocab).encode("我我我", "你你", maxlen=6)
            ([2, 4, 3, 5, 5, 3], [0, 0, 0, 1, 1, 1])
            >>> Tokenizer(vocab).encode("我你我", maxlen=4, truncate_from="left")
            ([2, 5, 4, 3], [0, 0, 0, 0])
        """
        if isinstance(first_text, str):
            first_tokens = self.tokenize(first_text)
        else:
            first_tokens = list(first_text)
        if second_text is None:
            second_tokens = None
        elif isinstance(second_text, str):
            second_tokens = self.tokenize(second_text)
        else:
            second_tokens = list(second_text)

        if maxlen is not None:
            if truncate_from == "right":
                index = -int(self._token_end is not None) - 1
            elif truncate_from == "left":
                index = int(self._token_start is not None)
            else:
                index = truncate_from
            if second_text is not None and pattern == "S*E*E":
                maxlen += 1  # the second start token is dropped below
            _truncate(maxlen, index, first_tokens, second_tokens)

        token_ids = self.tokens_to_ids(first_tokens)
        segment_ids = [0] * len(token_ids)
        if second_text is not None:
            if pattern == "S*E*E":
                second_tokens = second_tokens[int(bool(self._token_start)) :]
            second_ids = self.tokens_to_ids(second_tokens)
            token_ids.extend(second_ids)
            segment_ids.extend([1] * len(second_ids))
        return token_ids, segment_ids

    def id_to_token(self, i):
        """An id's token (subclasses)."""
        raise NotImplementedError

    def ids_to_tokens(self, ids):
        """The tokens of a list of ids.

        Example:
            >>> Tokenizer({"[UNK]": 0, "a": 1}).ids_to_tokens([1, 0])
            ['a', '[UNK]']
        """
        return [self.id_to_token(i) for i in ids]

    def decode(self, ids):
        """Readable text from ids (subclasses)."""
        raise NotImplementedError

    def _tokenize(self, text):
        raise NotImplementedError


class Tokenizer(TokenizerBase):
    """bert4keras's BERT tokenizer: basic splitting then WordPiece, in plain Python.

    Every CJK ideograph and every punctuation character (ASCII symbols
    included) is a word of its own; spaces separate words; NUL, U+FFFD and
    control / format characters (categories Cc, Cf; tab and newlines are
    spaces) are dropped. Each word becomes the longest vocabulary pieces from
    the left (`##` marking a continuation); a word that cannot be split so, or
    longer than `word_maxlen`, stays whole and maps to `[UNK]`. With
    `pre_tokenize`, the text is first cut into words by that callable: a word in
    the vocabulary is one token, any other goes through the steps above.

    Args:
        token_dict: token -> id, or the path of a vocabulary file (`load_vocab`).
        do_lower_case: lower-case the text and strip accents (NFD, combining
            marks removed) first.
        word_maxlen: words longer than this are not split (one `[UNK]`).
        token_start, token_end, pre_tokenize, token_translate: as in
            `TokenizerBase`.

    Example:
        >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "我", "爱", "play", "##ing", ",", "cafe"]
        >>> tokenizer = Tokenizer({t: i for i, t in enumerate(vocab)}, do_lower_case=True)
        >>> tokenizer.tokenize("我爱Playing, Café!")
        ['[CLS]', '我', '爱', 'play', '##ing', ',', 'cafe', '!', '[SEP]']
        >>> tokenizer.encode("我爱Playing, Café!")
        ([2, 4, 5, 6, 7, 8, 9, 1, 3], [0, 0, 0, 0, 0, 0, 0, 0, 0])
        >>> tokenizer.decode([2, 4, 5, 6, 7, 8, 9, 3])
        '我爱playing, cafe'
    """

    def __init__(
        self,
        token_dict,
        do_lower_case=False,
        word_maxlen=200,
        *,
        token_start="[CLS]",
        token_end="[SEP]",
        pre_tokenize=None,
        token_translate=None,
    ):
        super().__init__(
            token_start=token_start,
            token_end=token_end,
            pre_tokenize=pre_tokenize,
            token_translate=token_translate,
        )
        if isinstance(token_dict, (str, os.PathLike)):
            token_dict = load_vocab(token_dict)
        self._do_lower_case = do_lower_case
        self._token_dict = token_dict
        self._token_dict_inv = {v: k for k, v in token_dict.items()}
        self._vocab_size = len(token_dict)
        self._word_maxlen = word_maxlen
        # `_token_<name>_id` exists only for the special tokens in the vocabulary.
        for name in ("pad", "unk", "mask", "start", "end"):
            token = getattr(self, f"_token_{name}")
            if token is not None and token in token_dict:
                setattr(self, f"_token_{name}_id", token_dict[token])

    def token_to_id(self, token):
        """A token's id; `[UNK]`'s for a token outside the vocabulary.

        Example:
            >>> tokenizer = Tokenizer({"[UNK]": 0, "a": 1})
            >>> tokenizer.token_to_id("a"), tokenizer.token_to_id("zzz")
            (1, 0)
        """
        token_id = self._token_dict.get(token)
        if token_id is not None:
            return token_id
        if not hasattr(self, "_token_unk_id"):
            raise KeyError(
                f"{token!r} is not in the vocabulary, which has no {self._token_unk!r} token "
                "for unknown ones"
            )
        return self._token_unk_id

    def id_to_token(self, i):
        """An id's token (`KeyError` for an id outside the vocabulary).

        Example:
            >>> Tokenizer({"[UNK]": 0, "a": 1}).id_to_token(1)
            'a'
        """
        return self._token_dict_inv[i]

    def decode(self, ids, tokens=None):
        """Readable text from ids (or from `tokens`, when given and non-empty).

        Special tokens (`[...]`) are dropped, `##` pieces joined to the word
        before them, CJK characters written without spaces, and the spacing
        around punctuation, contractions and decimals tidied as in bert4keras.

        Example:
            >>> vocab = ["[CLS]", "[SEP]", "[UNK]", "今", "天", "it", "'", "s", "3", "."]
            >>> vocab += ["##5", "un", "##able"]
            >>> tokenizer = Tokenizer({t: i for i, t in enumerate(vocab)})
            >>> tokenizer.decode([0, 3, 4, 5, 6, 7, 8, 9, 8, 11, 12, 1])
            "今天it's 3.3 unable"
        """
        tokens = tokens or self.ids_to_tokens(ids)
        tokens = [token for token in tokens if not self._is_special(token)]
        text = ""
        for i, token in enumerate(tokens):
            if token[:2] == "##":
                text += token[2:]
            elif len(token) == 1 and self._is_cjk_character(token):
                text += token
            elif len(token) == 1 and self._is_punctuation(token):
                text += token + " "
            elif i > 0 and self._is_cjk_character(text[-1]):
                text += token
            else:
                text += " " + token
        text = _SPACES.sub(" ", text)
        text = _CONTRACTION.sub(r"'\1 ", text)
        text = _NO_SPACE_AFTER.sub(r"\1", text)
        text = _DECIMAL.sub(r"\1\2", text)
        return text.strip()

    def _tokenize(self, text, pre_tokenize=True):
        if self._do_lower_case:
            text = _lowercase_and_normalize(text)

        if pre_tokenize and self._pre_tokenize is not None:
            tokens = []
            for word in self._pre_tokenize(text):
                if word in self._token_dict:
                    tokens.append(word)
                else:
                    tokens.extend(self._tokenize(word, False))
            return tokens

        pieces = []
        for ch in text:
            if self._is_punctuation(ch) or self._is_cjk_character(ch):
                pieces.append(f" {ch} ")
            elif self._is_space(ch):
                pieces.append(" ")
            elif not _is_dropped(ch):
                pieces.append(ch)
        tokens = []
        for word in "".join(pieces).split():
            tokens.extend(self._word_piece_tokenize(word))
        return tokens

    def _word_piece_tokenize(self, word):
        """WordPiece: the longest vocabulary piece from the left, again and
        again; the whole word when some position has no piece or the word is
        longer than `word_maxlen`."""
        if len(word) > self._word_maxlen:
            return [word]
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self._token_dict:
                    break
            else:
                return [word]
            pieces.append(piece)
            start = end
        return pieces

    @staticmethod
    def stem(token):
        """The token without its leading `##`.

        Example:
            >>> Tokenizer.stem("##ing"), Tokenizer.stem("play")
            ('ing', 'play')
        """
        return token[2:] if token[:2] == "##" else token

    @staticmethod
    def _is_space(ch):
        """Space, tab, newline, carriage return or a space separator (Zs).

        Example:
            >>> Tokenizer._is_space("\\t"), Tokenizer._is_space("\\u3000"), Tokenizer._is_space("a")
            (True, True, False)
        """
        return ch in " \n\r\t" or unicodedata.category(ch) == "Zs"

    @staticmethod
    def _is_punctuation(ch):
        """ASCII symbols (`!` to `/`, `:` to `@`, `[` to `` ` ``, `{` to `~`) or
        any Unicode punctuation (category P*), full-width ones included.

        Example:
            >>> [Tokenizer._is_punctuation(ch) for ch in "$，a"]
            [True, True, False]
        """
        code = ord(ch)
        return (
            33 <= code <= 47
            or 58 <= code <= 64
            or 91 <= code <= 96
            or 123 <= code <= 126
            or unicodedata.category(ch).startswith("P")
        )

    @staticmethod
    def _cjk_punctuation():
        """The CJK / full-width punctuation `decode` writes no space after.

        Example:
            >>> "，" in Tokenizer._cjk_punctuation(), "," in Tokenizer._cjk_punctuation()
            (True, False)
        """
        return _CJK_PUNCTUATION

    @staticmethod
    def _is_cjk_character(ch):
        """A CJK unified or compatibility ideograph (Chinese characters among them).

        Example:
            >>> Tokenizer._is_cjk_character("中"), Tokenizer._is_cjk_character("の")
            (True, False)
        """
        code = ord(ch)
        return any(first <= code <= last for first, last in _CJK_RANGES)

    @staticmethod
    def _is_control(ch):
        """A control or format character (category Cc or Cf).

        Example:
            >>> Tokenizer._is_control("\\x07"), Tokenizer._is_control("\\u200b")
            (True, True)
        """
        return unicodedata.category(ch) in ("Cc", "Cf")

    @staticmethod
    def _is_special(ch):
        """A special token: non-empty, in square brackets.

        Example:
            >>> Tokenizer._is_special("[CLS]"), Tokenizer._is_special("CLS")
            (True, False)
        """
        return bool(ch) and ch[0] == "[" and ch[-1] == "]"

    @staticmethod
    def _is_redundant(token):
        """A token `Tokenizer` never produces: longer than one character with a
        CJK character or punctuation in its stem. (bert4keras returns `None`
        rather than `False`.)

        Example:
            >>> Tokenizer._is_redundant("中国"), Tokenizer._is_redundant("##国")
            (True, True)
            >>> Tokenizer._is_redundant("国"), Tokenizer._is_redundant("##ing")
            (False, False)
        """
        if len(token) <= 1:
            return False
        return any(
            Tokenizer._is_cjk_character(ch) or Tokenizer._is_punctuation(ch)
            for ch in Tokenizer.stem(token)
        )

    def rematch(self, text, tokens):
        """For each token, the positions in `text` of its characters.

        Special tokens get `[]`. The text is normalized as `tokenize` does
        (lower case and accents, dropped characters), and each token's stem
        found in it from where the previous one ended. With `do_lower_case`
        the positions are those of `text.lower()` (the same as in `text`
        unless lower-casing changes a character's length, as for `'İ'`).

        Example:
            >>> vocab = ["[CLS]", "[SEP]", "[UNK]", "我", "play", "##ing"]
            >>> tokenizer = Tokenizer({t: i for i, t in enumerate(vocab)}, do_lower_case=True)
            >>> text = "我 Playing"
            >>> tokens = tokenizer.tokenize(text)
            >>> tokens
            ['[CLS]', '我', 'play', '##ing', '[SEP]']
            >>> tokenizer.rematch(text, tokens)
            [[], [0], [2, 3, 4, 5], [6, 7, 8], []]
        """
        if self._do_lower_case:
            text = text.lower()
        normalized, char_mapping = [], []
        for i, ch in enumerate(text):
            if self._do_lower_case:
                ch = _lowercase_and_normalize(ch)
            kept = "".join(c for c in ch if not _is_dropped(c))
            normalized.append(kept)
            char_mapping.extend([i] * len(kept))
        normalized = "".join(normalized)

        spans, offset = [], 0
        for token in tokens:
            if self._is_special(token):
                spans.append([])
                continue
            token = self.stem(token)
            start = normalized.index(token, offset)
            end = start + len(token)
            spans.append(char_mapping[start:end])
            offset = end
        return spans


class SpTokenizer(TokenizerBase):
    """bert4keras's wrapper of a SentencePiece model (ALBERT, T5, ...), used
    like `Tokenizer`.

    Tokens are the model's pieces; `[CLS]`, `[SEP]` and `[MASK]` get the model's
    ids for those pieces (its unknown id when it has none); `_token_pad` and
    `_token_unk` are the model's padding and unknown pieces. Needs the
    `sentencepiece` package (a dependency of kerastack-tokenizers).

    Args:
        sp_model_path: path of the `.model` file.
        token_start, token_end, pre_tokenize, token_translate: as in
            `TokenizerBase` (`pre_tokenize`'s words are joined with spaces).

    Example:
        >>> import os, tempfile, sentencepiece as spm
        >>> folder = tempfile.mkdtemp()
        >>> spm.SentencePieceTrainer.train(
        ...     sentence_iterator=iter(["hello world", "hello there world"] * 20),
        ...     model_prefix=os.path.join(folder, "sp"), vocab_size=30, model_type="char",
        ...     pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
        ...     control_symbols=["[CLS]", "[SEP]", "[MASK]"], minloglevel=2)
        >>> tokenizer = SpTokenizer(os.path.join(folder, "sp.model"))
        >>> tokenizer._token_pad, tokenizer._token_start_id, tokenizer._token_end_id
        ('<pad>', 2, 3)
        >>> tokens = tokenizer.tokenize("hello")
        >>> tokens[0], tokens[-1], "".join(tokens[1:-1])
        ('[CLS]', '[SEP]', '▁hello')
        >>> tokenizer.decode(tokenizer.encode("hello world")[0])
        'hello world'
    """

    def __init__(
        self,
        sp_model_path,
        *,
        token_start="[CLS]",
        token_end="[SEP]",
        pre_tokenize=None,
        token_translate=None,
    ):
        super().__init__(
            token_start=token_start,
            token_end=token_end,
            pre_tokenize=pre_tokenize,
            token_translate=token_translate,
        )
        try:
            import sentencepiece
        except ImportError as error:
            raise ImportError(
                "SpTokenizer needs the sentencepiece package: pip install sentencepiece"
            ) from error
        self.sp_model = sentencepiece.SentencePieceProcessor()
        self.sp_model.Load(os.fspath(sp_model_path))
        if self.sp_model.pad_id() >= 0:
            self._token_pad = self.sp_model.id_to_piece(self.sp_model.pad_id())
        self._token_unk = self.sp_model.id_to_piece(self.sp_model.unk_id())
        self._vocab_size = self.sp_model.get_piece_size()
        for name in ("pad", "unk", "mask", "start", "end"):
            token = getattr(self, f"_token_{name}")
            if token is not None:
                setattr(self, f"_token_{name}_id", self.sp_model.piece_to_id(token))

    def token_to_id(self, token):
        """A piece's id (the unknown id for a piece outside the model)."""
        return self.sp_model.piece_to_id(token)

    def id_to_token(self, i):
        """An id's piece; `''` for an id at or past the vocabulary size."""
        if i < self._vocab_size:
            return self.sp_model.id_to_piece(i)
        return ""

    def decode(self, ids):
        """Text from ids: `token_translate` undone, then SentencePiece's decoding
        (control pieces such as `[CLS]` vanish).
        """
        tokens = [
            self._token_translate_inv.get(token) or token for token in self.ids_to_tokens(ids)
        ]
        text = self.sp_model.decode_pieces(tokens)
        return text.decode("utf-8", errors="ignore") if isinstance(text, bytes) else text

    def _tokenize(self, text):
        if self._pre_tokenize is not None:
            text = " ".join(self._pre_tokenize(text))
        return self.sp_model.encode_as_pieces(text)

    def _is_special(self, i):
        """Whether id `i` is a control, unknown or unused piece."""
        return (
            self.sp_model.is_control(i) or self.sp_model.is_unknown(i) or self.sp_model.is_unused(i)
        )

    def _is_decodable(self, i):
        """Whether id `i` is in the vocabulary and not special."""
        return i < self._vocab_size and not self._is_special(i)
