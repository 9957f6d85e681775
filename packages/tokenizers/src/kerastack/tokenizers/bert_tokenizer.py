"""WordPiece tokenization exactly as Google's BERT does it, on the HF
`tokenizers` engine (Rust), with encoding to model inputs on top."""

import numbers
import os
import re
from collections.abc import Iterable, Mapping
from itertools import chain

import numpy as np

from kerastack.tokenizers.files import checkpoint_folder, read_json_object

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def read_text(path, what="vocabulary"):
    """The text of UTF-8 file `path` (a byte-order mark at its start is
    dropped).

    A missing file is a `FileNotFoundError`; a file that is not UTF-8 (a
    UTF-16 one, say) a `ValueError` naming the file and the line of the
    first bad byte.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
    >>> with open(path, "wb") as file:
    ...     _ = file.write(b"[PAD]\\r\\n[unused0]\\r\\n")
    >>> read_text(path).splitlines()
    ['[PAD]', '[unused0]']
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"The {what} file's path must be a str, received {path!r}.")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No {what} file at {path}.")
    with open(path, "rb") as file:
        data = file.read()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValueError(
            f"{path} is UTF-16 text (it starts with a UTF-16 byte-order mark); "
            f"a {what} file is UTF-8: save it as UTF-8."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(
            f"{path}, line {line}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
            f"{error.start}); a {what} file is UTF-8."
        ) from error
    # Universal newlines, as reading the file in text mode gives them.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_vocabulary(path):
    """`{token: id}` of a `vocab.txt` (one token a line, the id its line number).

    Errors: a missing file is a `FileNotFoundError`; an empty file, one that
    is not UTF-8, or one that holds a token twice is a `ValueError` naming
    the file (and the lines).

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
    >>> with open(path, "w", encoding="utf-8") as file:
    ...     _ = file.write("[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\n[MASK]\\nhello\\n##s\\n")
    >>> vocabulary = read_vocabulary(path)
    >>> vocabulary["[CLS]"], vocabulary["##s"], len(vocabulary)
    (2, 6, 7)
    """
    tokens = read_text(path).split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    if not tokens:
        raise ValueError(f"{os.fspath(path)} holds no tokens.")
    vocabulary = {}
    for index, token in enumerate(tokens):
        if token in vocabulary:
            raise ValueError(
                f"{os.fspath(path)}: token {token!r} appears twice "
                f"(lines {vocabulary[token] + 1} and {index + 1})."
            )
        vocabulary[token] = index
    return vocabulary


def check_vocabulary(vocabulary, source="vocabulary"):
    """`vocabulary` (a `{token: id}` mapping, or a list of tokens whose ids
    are their positions) as a checked `{token: id}` dict.

    Tokens are distinct `str`s (without lone surrogates); ids are ints
    (NumPy's too, never bools or floats), `0..n-1` for `n` tokens, each
    once, so that `n` is the vocabulary's size. Anything else is a
    `ValueError` naming `source` (the file, or "vocabulary") and the entry.

    Example:

    >>> check_vocabulary(["[PAD]", "hello"])
    {'[PAD]': 0, 'hello': 1}
    """
    if isinstance(vocabulary, (list, tuple)):
        items = [(token, index) for index, token in enumerate(vocabulary)]
    elif isinstance(vocabulary, Mapping):
        items = list(vocabulary.items())
    else:
        raise ValueError(
            f"{source} must be a {{token: id}} dict, a list of tokens or a file's path, "
            f"received {type(vocabulary).__name__}."
        )
    if not items:
        raise ValueError(f"{source} is empty.")
    size = len(items)
    tokens, ids = {}, {}  # id -> token, token -> id
    for token, index in items:
        if not isinstance(token, str):
            raise ValueError(
                f"{source}: token {token!r} is a {type(token).__name__}; tokens are str."
            )
        if not token.isascii() and _SURROGATE.search(token):
            raise ValueError(f"{source}: token {token!r} holds a lone surrogate.")
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, numbers.Integral):
            raise ValueError(
                f"{source}: token {token!r} has id {index!r} ({type(index).__name__}); "
                "ids are ints."
            )
        index = int(index)
        if not 0 <= index < size:
            raise ValueError(
                f"{source}: token {token!r} has id {index}; the ids of {size} tokens are "
                f"0..{size - 1}, each once (no negative ids, no gaps)."
            )
        if index in tokens:
            raise ValueError(
                f"{source}: tokens {tokens[index]!r} and {token!r} both have id {index}."
            )
        if token in ids:  # a list's token twice
            raise ValueError(
                f"{source}: token {token!r} appears twice (positions {ids[token]} and {index})."
            )
        tokens[index] = token
        ids[token] = index
    return ids


def check_token_dict(token_dict, source="token_dict"):
    """keras-bert's `{token: id}` (`compat.Tokenizer`'s `token_dict`) as a
    dict of str tokens and int ids >= 0 (NumPy ints become ints). Unlike
    `check_vocabulary` it allows gaps and shared ids, as keras-bert did.

    Example:

    >>> check_token_dict({"[CLS]": np.int64(101)})
    {'[CLS]': 101}
    """
    if not isinstance(token_dict, Mapping):
        raise ValueError(
            f"{source} must be a {{token: id}} dict, received {type(token_dict).__name__}."
        )
    checked = {}
    for token, index in token_dict.items():
        if not isinstance(token, str):
            raise ValueError(
                f"{source}: token {token!r} is a {type(token).__name__}; tokens are str."
            )
        if not token.isascii() and _SURROGATE.search(token):
            raise ValueError(f"{source}: token {token!r} holds a lone surrogate.")
        if (
            isinstance(index, (bool, np.bool_))
            or not isinstance(index, numbers.Integral)
            or index < 0
            or index >= 2**32
        ):
            raise ValueError(
                f"{source}: token {token!r} has id {index!r}; ids are ints in 0..2**32 - 1."
            )
        checked[token] = int(index)
    return checked


# A lone surrogate (U+D800..U+DFFF): a Python str may hold one, but it is no
# Unicode character, has no UTF-8 bytes, and the tokenizers' engines refuse it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(text, argument="text"):
    """`text`, checked to be a `str` the tokenizers can read: a `ValueError`
    names `argument` if it is not a `str`, or holds a lone surrogate (and
    where).

    Example:

    >>> check_text("hello")
    'hello'
    """
    if not isinstance(text, str):
        shown = repr(text)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise ValueError(f"`{argument}` must be a str, received {type(text).__name__}: {shown}.")
    if not text.isascii() and (match := _SURROGATE.search(text)) is not None:
        raise ValueError(
            f"`{argument}` holds a lone surrogate, U+{ord(match.group()):04X}, at position "
            f"{match.start()}: no Unicode character (nor UTF-8 byte sequence), so it has no "
            "tokens. It comes from bytes decoded with errors='surrogateescape', or from half "
            "of a UTF-16 pair; decode the bytes with errors='replace', or join the pairs with "
            "text.encode('utf-16', 'surrogatepass').decode('utf-16')."
        )
    return text


def check_texts(texts, argument="texts"):
    """`texts` (a list, tuple or other iterable of `str`) as a list, each
    checked by `check_text`; a single `str`, or anything not iterable, is a
    `ValueError` naming `argument`.

    Example:

    >>> check_texts(("a", "b"))
    ['a', 'b']
    """
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Iterable):
        kind = "one str" if isinstance(texts, str) else type(texts).__name__
        raise ValueError(f"`{argument}` must be a list of str, received {kind}.")
    texts = list(texts)
    for index, text in enumerate(texts):
        check_text(text, f"{argument}[{index}]")
    return texts


def check_int(argument, value, minimum=1, allow_none=False):
    """`value` as a Python int >= `minimum` (Python or NumPy integers; not
    bools, floats or strings), or None where allowed: a `ValueError` names
    the argument otherwise. (The tokenizers import no Keras, so not
    `kerastack.core.check_int`, whose messages these match.)

    Example:

    >>> check_int("pad_index", np.int64(0), minimum=0)
    0
    """
    if allow_none and value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= minimum:
        return int(value)
    bound = "a positive int" if minimum == 1 else f"an int >= {minimum}"
    bound += " or None" if allow_none else ""
    raise ValueError(f"`{argument}` must be {bound}, received {argument}={value!r}.")


def check_max_length(max_length, argument="max_length"):
    """`max_length` as an int >= 1, or None: a `ValueError` names it
    otherwise (bools, floats, strings, zero and negative numbers).

    Example:

    >>> check_max_length(np.int64(8))
    8
    """
    return check_int(argument, max_length, minimum=1, allow_none=True)


def check_ids(ids, vocabulary_size, argument="ids"):
    """`ids` as Python ints in `0..vocabulary_size - 1`, nested as given.

    `ids` is an id (a Python or NumPy integer), a (nested) list or tuple of
    them, or an integer array (NumPy's or a backend's). Floats (even 2.0),
    bools, strings, ragged or mixed nesting, and ids out of range are each a
    `ValueError` naming the argument, the offending id (and where it is) and
    the vocabulary's size.

    Example:

    >>> check_ids(np.array([[2, 7]]), 30)
    [[2, 7]]
    """
    unknown = []
    ids = _as_ints(ids, argument, vocabulary_size, unknown, 0)
    if unknown:
        values = [value for _, value in unknown[:10]]
        places = ", ".join(where for where, _ in unknown[:10])
        raise ValueError(
            f"Unknown token ids {values} (at {places}): the vocabulary has ids "
            f"0..{vocabulary_size - 1} (vocabulary_size={vocabulary_size})."
        )
    return ids


def map_rows(ids, function):
    """`function` (of a list of ids) on each innermost list of ids checked by
    `check_ids`, nested as they are; a lone id is taken as a list of one.

    Example:

    >>> map_rows([[1, 2], [3]], len)
    [2, 1]
    """
    if isinstance(ids, int):
        return function([ids])
    if all(isinstance(i, int) for i in ids):
        return function(ids)
    return [map_rows(row, function) for row in ids]


_MAX_NESTING = 32


def _as_ints(ids, where, size, unknown, depth):
    """`check_ids`' walk: ids as ints, those out of range noted in `unknown`."""
    if isinstance(ids, numbers.Integral) and not isinstance(ids, (bool, np.bool_)):
        ids = int(ids)
        if not 0 <= ids < size:
            unknown.append((where, ids))
        return ids
    if isinstance(ids, (list, tuple)):
        if depth >= _MAX_NESTING:
            raise ValueError(f"`{where}` nests lists deeper than {_MAX_NESTING} levels.")
        values = [
            _as_ints(value, f"{where}[{i}]", size, unknown, depth + 1)
            for i, value in enumerate(ids)
        ]
        kinds = {isinstance(value, int) for value in values if value != []}
        if len(kinds) > 1:
            raise ValueError(f"`{where}` mixes ids and lists of ids (ragged nesting).")
        return values
    if hasattr(ids, "__array__") and not isinstance(ids, (str, bytes)):
        array = np.asarray(ids)
        if array.dtype.kind == "O":
            return _as_ints(array.tolist(), where, size, unknown, depth)
        if array.dtype.kind not in "iu" and array.size:
            raise ValueError(
                f"`{where}` has dtype {array.dtype}; token ids are integers (cast with "
                "astype('int32') only if the values are whole numbers)."
            )
        array = array.astype(np.int64)
        bad = np.argwhere((array < 0) | (array >= size))
        for position in bad[:10]:
            index = "".join(f"[{int(i)}]" for i in position)
            unknown.append((where + index, int(array[tuple(position)])))
        return array.tolist()
    raise ValueError(
        f"`{where}` is {ids!r} ({type(ids).__name__}); token ids are ints (Python or NumPy), "
        "lists of them or integer arrays."
    )


def wordpiece_engine(vocabulary, lowercase, strip_accents, max_characters, unk_token, specials):
    """An HF `tokenizers` WordPiece tokenizer set up as Google's BERT."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    engine = Tokenizer(
        models.WordPiece(vocabulary, unk_token=unk_token, max_input_chars_per_word=max_characters)
    )
    engine.normalizer = normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=True,
        strip_accents=strip_accents,
        lowercase=lowercase,
    )
    engine.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    engine.add_special_tokens([token for token in specials if token in vocabulary])
    return engine


def plain_text_engine(vocabulary, lowercase, max_characters, unk_token, specials):
    """`wordpiece_engine` for plain text only (see `is_plain`): on it,
    `BertNormalizer` does nothing but lower-case (control characters to drop,
    CJK characters to space out and accents to strip are all outside ASCII),
    so this engine only lower-cases, in about half the time."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    engine = Tokenizer(
        models.WordPiece(vocabulary, unk_token=unk_token, max_input_chars_per_word=max_characters)
    )
    if lowercase:
        engine.normalizer = normalizers.Lowercase()
    engine.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    engine.add_special_tokens([token for token in specials if token in vocabulary])
    return engine


# A character that is not ASCII, or an ASCII control character other than
# tab, line feed and carriage return (BertNormalizer drops those; these three
# are whitespace).
_NOT_PLAIN = re.compile("[^\t\n\r\x20-\x7e]")


def is_plain(text):
    """Whether `text` is ASCII without control characters: text that
    `BertNormalizer` only lower-cases (and turns tabs and line breaks into
    spaces, which split words all the same)."""
    return text.isascii() and _NOT_PLAIN.search(text) is None


def plain_runs(text):
    """`text` cut at line feeds into `(plain, piece)` runs of whole lines,
    so that the plain lines of a text that is not plain still take the plain
    engine. Line feeds separate words and belong to no word piece, so the
    pieces of the runs, end to end, are those of the text."""
    spans = []  # (plain, start, end)
    position = 0  # 0, or the line feed that ends the last span
    while (match := _NOT_PLAIN.search(text, position)) is not None:
        start = text.rfind("\n", position, match.start()) + 1 or position
        end = text.find("\n", match.end())
        end = len(text) if end < 0 else end
        if spans and start == position + 1:  # the line after the last span
            spans[-1] = (False, spans[-1][1], end)
        else:
            if start > position:
                spans.append((True, position, start))
            spans.append((False, start, end))
        position = end
    if position < len(text):
        spans.append((True, position, len(text)))
    return [(plain, text[start:end]) for plain, start, end in spans]


def truncated_lengths(first, second, budget):
    """Lengths after Google's `_truncate_seq_pair`: while the pair is over
    `budget`, one piece comes off the longer text (the second on a tie)."""
    excess = first + second - budget
    if excess <= 0:
        return first, second
    if first > second:
        cut = min(excess, first - second)
        first, excess = first - cut, excess - cut
    else:
        cut = min(excess, second - first)
        second, excess = second - cut, excess - cut
    # Equal now (or done): the second loses one, then the first, in turn.
    return first - excess // 2, second - (excess + 1) // 2


def check_pair(first, second):
    """`encode`'s `first` and `second` (str, and str or None) checked as
    `check_text` does.

    Example:

    >>> check_pair("a question", None)
    ('a question', None)
    """
    return check_text(first, "first"), None if second is None else check_text(second, "second")


def check_pairs(firsts, seconds):
    """`encode_batch`'s `firsts` and `seconds` (lists of str, the second
    None or as long as the first) checked as `check_texts` does.

    Example:

    >>> check_pairs(["a", "b"], ("c", "d"))
    (['a', 'b'], ['c', 'd'])
    """
    firsts = check_texts(firsts, "firsts")
    if seconds is None:
        return firsts, None
    seconds = check_texts(seconds, "seconds")
    if len(seconds) != len(firsts):
        raise ValueError(f"{len(firsts)} first texts but {len(seconds)} second texts.")
    return firsts, seconds


def check_bool(argument, value, allow_none=False):
    """`value` as a bool (Python's or NumPy's); a `ValueError` names
    `argument` for anything else (`"false"`, 0, ...).

    Example:

    >>> check_bool("lowercase", np.True_)
    True
    """
    if value is None and allow_none:
        return None
    if not isinstance(value, (bool, np.bool_)):
        expected = "a bool or None" if allow_none else "a bool"
        raise ValueError(f"`{argument}` must be {expected}, received {argument}={value!r}.")
    return bool(value)


def _read_json(path):
    """`read_json_object`, with a file that is not UTF-8 or nests too deep
    also a `ValueError` naming it."""
    try:
        return read_json_object(path)
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text: {error}") from error
    except RecursionError as error:
        raise ValueError(f"{path} nests JSON values too deeply to read.") from error


class BertTokenizer:
    """Google BERT's WordPiece tokenizer.

    Text is cleaned (control characters dropped, whitespace normalized), CJK
    characters are split apart, lower-cased and stripped of accents for an
    uncased vocabulary, split on whitespace and punctuation, and each word
    cut into the longest pieces of the vocabulary (`##` marks a piece inside
    a word). A word longer than `max_characters_per_word`, or one that no
    pieces spell, becomes one `[UNK]`. Special tokens written in the text
    (`[MASK]`, `[SEP]`, ...) are kept whole.

    Every `str` tokenizes but one holding a lone surrogate (no Unicode
    character), which is a `ValueError` naming its position, as are texts
    that are not `str`. Ids are checked: ints (Python or NumPy) in
    `0..vocabulary_size - 1`.

    Args:
        vocabulary: path of a `vocab.txt`, or a `{token: id}` dict (ids
            `0..n-1`, each once), or a list of tokens (the id is the
            position). It must hold `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]` and
            `[MASK]`.
        lowercase: bool, lower-case and strip accents (uncased vocabularies).
        strip_accents: bool or None; None follows `lowercase`.
        max_characters_per_word: int, longer words become `[UNK]`.

    Example:

    >>> tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "##s"])
    >>> tokenizer.tokenize("Hellos!")
    ['hello', '##s', '[UNK]']
    >>> tokenizer.encode("hello", max_length=5)["token_ids"].tolist()  # [CLS] hello [SEP] pads
    [2, 5, 3, 0, 0]
    """

    # The special tokens a vocabulary must hold.
    SPECIAL_TOKENS = SPECIAL_TOKENS

    def __init__(self, vocabulary, lowercase=True, strip_accents=None, max_characters_per_word=100):
        source = "The vocabulary"
        if isinstance(vocabulary, (str, os.PathLike)):
            source = os.fspath(vocabulary)
            vocabulary = read_vocabulary(source)
        vocabulary = check_vocabulary(vocabulary, source)
        missing = [token for token in SPECIAL_TOKENS if token not in vocabulary]
        if missing:
            raise ValueError(f"{source} lacks the special tokens {missing}.")
        lowercase = check_bool("lowercase", lowercase)
        strip_accents = check_bool("strip_accents", strip_accents, allow_none=True)
        max_characters_per_word = check_int("max_characters_per_word", max_characters_per_word)
        self.vocabulary = vocabulary
        self.inverse_vocabulary = {index: token for token, index in vocabulary.items()}
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.max_characters_per_word = max_characters_per_word
        self._engine = wordpiece_engine(
            vocabulary,
            lowercase,
            self.strip_accents,
            max_characters_per_word,
            "[UNK]",
            SPECIAL_TOKENS,
        )
        self._plain_engine = plain_text_engine(
            vocabulary, lowercase, max_characters_per_word, "[UNK]", SPECIAL_TOKENS
        )
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (
            vocabulary[token] for token in SPECIAL_TOKENS
        )

    @classmethod
    def from_folder(cls, folder, lowercase=None, revision=None):
        """The tokenizer of a checkpoint folder (or Hub model name, at `revision`), from its
        `vocab.txt`.

        Unless `lowercase` is given, it comes from HF's
        `tokenizer_config.json` (`do_lower_case`, `strip_accents`) when the
        folder has one, and otherwise from the folder's name as Google names
        its releases: `cased_...` and `multi_cased_...` keep case, all
        others (`uncased_...`, `chinese_...`) are lower-cased.
        """
        folder = checkpoint_folder(folder, revision=revision)
        strip_accents = None
        config_path = os.path.join(folder, "tokenizer_config.json")
        if lowercase is None and os.path.exists(config_path):
            config = _read_json(config_path)
            lowercase = config.get("do_lower_case", True)
            strip_accents = config.get("strip_accents")
            for key, value in (("do_lower_case", lowercase), ("strip_accents", strip_accents)):
                if not isinstance(value, (bool, type(None))):
                    raise ValueError(
                        f"{config_path}: {key} must be true, false or null, read {value!r}."
                    )
        if lowercase is None:
            name = os.path.basename(os.path.normpath(folder)).lower()
            lowercase = not ("cased" in name and "uncased" not in name)
        return cls(os.path.join(folder, "vocab.txt"), lowercase, strip_accents)

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    def _ids(self, texts):
        """The ids of each text's word pieces (texts checked).

        Plain texts (most) take the plain-text engine; the others are cut
        into runs of lines, plain runs taking that engine too and the rest
        the full one. Neither engine computes offsets.
        """
        plain, other = [], []
        layout = []  # per text, its runs: (plain?, index in plain or other)
        for text in texts:
            if is_plain(text):
                layout.append(((True, len(plain)),))
                plain.append(text)
                continue
            runs = []
            for run_plain, run in plain_runs(text):
                pieces = plain if run_plain else other
                runs.append((run_plain, len(pieces)))
                pieces.append(run)
            layout.append(runs)
        results = {
            True: [encoding.ids for encoding in _encode_fast(self._plain_engine, plain)],
            False: [encoding.ids for encoding in _encode_fast(self._engine, other)],
        }
        return [
            results[runs[0][0]][runs[0][1]]
            if len(runs) == 1
            else list(chain.from_iterable(results[p][i] for p, i in runs))
            for runs in layout
        ]

    def tokenize(self, text):
        """The word pieces of `text`, e.g. `["un", "##aff", "##able"]`."""
        return self._tokens(self._ids([check_text(text)]))[0]

    def tokenize_batch(self, texts):
        """`tokenize` for a list of texts."""
        return self._tokens(self._ids(check_texts(texts)))

    def token_ids(self, text):
        """The ids of `text`'s word pieces (no [CLS] or [SEP])."""
        return self._ids([check_text(text)])[0]

    def offsets(self, text):
        """`(start, end)` character offsets in `text` of each word piece
        (keras-bert's `rematch`, for the pieces of `tokenize(text)`)."""
        encoding = self._engine.encode(check_text(text), add_special_tokens=False)
        return [tuple(offset) for offset in encoding.offsets]

    def word_ids(self, text):
        """The word each piece of `tokenize(text)` comes from: 0 for the
        pieces of the first word, 1 for the second's, ... (a word as BERT
        splits text: at whitespace, around each punctuation mark and each
        CJK character). With `encode`, which puts `[CLS]` first, the pieces
        sit one position later; `kerastack.training.first_piece_mask` turns
        the list into the mask a tagging task scores words with.

        Example:

        >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff",
        ...     "##able", "jack", ","]
        >>> tokenizer = BertTokenizer({token: i for i, token in enumerate(vocab)})
        >>> tokenizer.tokenize("unaffable, jack")
        ['un', '##aff', '##able', ',', 'jack']
        >>> tokenizer.word_ids("unaffable, jack")
        [0, 0, 0, 1, 2]
        """
        encoding = self._engine.encode(check_text(text), add_special_tokens=False)
        return [int(word) for word in encoding.word_ids]

    def _tokens(self, ids):
        """The tokens of (nested lists of) checked ids."""
        if isinstance(ids, int):
            return self.inverse_vocabulary[ids]
        if all(isinstance(i, int) for i in ids):
            tokens = self.inverse_vocabulary
            return [tokens[i] for i in ids]
        return [self._tokens(row) for row in ids]

    def ids_to_tokens(self, ids):
        """The tokens of `ids` (an id, a list or an integer array, nested as
        given); see `check_ids` for what is an error."""
        return self._tokens(check_ids(ids, self.vocabulary_size))

    def decode(self, ids, skip_special_tokens=False):
        """The text of a sequence of ids (Hugging Face's name; keras-hub's is
        `detokenize`): the word pieces joined, a `##` piece to the piece
        before it and the words by single spaces, so a text comes back as
        the tokenizer normalized it (lower-cased for an uncased vocabulary,
        each punctuation mark and CJK character a word of its own). Unlike
        Hugging Face's default, no space is taken out before punctuation
        (`"hello , world"` stays so): that guess would change texts whose
        spaces were there.

        Args:
            ids: an id sequence (list or 1-D integer array), or a batch of
                them (nested lists or a 2-D array), which gives a list of
                texts. An id outside `0..vocabulary_size - 1` is a
                `ValueError` naming it.
            skip_special_tokens: bool, leave out `[PAD]`, `[UNK]`, `[CLS]`,
                `[SEP]` and `[MASK]`.

        Example:

        >>> tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un",
        ...     "##aff", "##able", "jack", ","])
        >>> ids = tokenizer.encode("Unaffable, Jack", max_length=8)["token_ids"]
        >>> tokenizer.decode(ids)
        '[CLS] unaffable , jack [SEP] [PAD]'
        >>> tokenizer.decode(ids, skip_special_tokens=True)
        'unaffable , jack'
        """
        skip = check_bool("skip_special_tokens", skip_special_tokens)
        tokens = self.inverse_vocabulary
        skipped = {self.vocabulary[token] for token in SPECIAL_TOKENS} if skip else set()

        def text(row):
            words = []
            for index in row:
                if index in skipped:
                    continue
                token = tokens[index]
                if token.startswith("##") and len(token) > 2 and words:
                    words[-1] += token[2:]
                else:
                    words.append(token)
            return " ".join(words)

        return map_rows(check_ids(ids, self.vocabulary_size), text)

    def detokenize(self, ids, skip_special_tokens=False):
        """keras-hub's name for `decode`."""
        return self.decode(ids, skip_special_tokens)

    def encode(self, first, second=None, max_length=None):
        """Model inputs for one text or a pair.

        `[CLS] first [SEP]` (segment 0) then `second [SEP]` (segment 1).
        With `max_length`, the longer of the two is cut one piece at a time
        until the whole fits (longest first), and the result is padded with
        `[PAD]` to `max_length`.

        Returns:
            dict of int32 arrays `(T,)`: `token_ids`, `segment_ids`,
            `padding_mask` (1 on real tokens).
        """
        first, second = check_pair(first, second)
        batch = self.encode_batch([first], None if second is None else [second], max_length)
        return {name: values[0] for name, values in batch.items()}

    def encode_batch(self, firsts, seconds=None, max_length=None):
        """`encode` for lists of texts (and pairs); without `max_length` the
        batch is padded to its longest. Returns arrays `(B, T)`."""
        firsts, seconds = check_pairs(firsts, seconds)
        first_ids = self._ids(firsts)
        second_ids = None if seconds is None else self._ids(seconds)
        return pack_inputs(
            first_ids,
            second_ids,
            max_length,
            self.pad_id,
            prefix=[self.cls_id],
            middle=[self.sep_id],
            suffix=[self.sep_id],
        )


def pack_inputs(
    first_ids, second_ids, max_length, pad_id, prefix, middle, suffix, second_segment=1
):
    """Model inputs from each text's piece ids (and each pair's second's):
    `prefix first suffix` or `prefix first middle second suffix`, cut
    longest-first to `max_length` and padded with `pad_id` (to the longest
    row without `max_length`).

    Segment ids are 0 up to the middle tokens and `second_segment` after
    them. Returns a dict of int32 arrays `(B, T)`: `token_ids`,
    `segment_ids`, `padding_mask`.
    """
    max_length = check_max_length(max_length)
    specials = len(prefix) + len(suffix) + (0 if second_ids is None else len(middle))
    if max_length is not None and max_length < specials:
        raise ValueError(f"max_length={max_length} leaves no room for the special tokens.")
    first_lengths = np.array([len(ids) for ids in first_ids], dtype=np.int64)
    if second_ids is None:
        if max_length is not None:
            np.minimum(first_lengths, max_length - specials, out=first_lengths)
        lengths = first_lengths + specials
    else:
        second_lengths = np.array([len(ids) for ids in second_ids], dtype=np.int64)
        if max_length is not None:
            for row, (a, b) in enumerate(zip(first_lengths, second_lengths, strict=True)):
                first_lengths[row], second_lengths[row] = truncated_lengths(
                    int(a), int(b), max_length - specials
                )
        lengths = first_lengths + second_lengths + specials
    batch = len(first_ids)
    length = max_length or int(lengths.max(initial=0))
    if batch == 0:
        empty = np.zeros((0, length), dtype="int32")
        return {"token_ids": empty, "segment_ids": empty.copy(), "padding_mask": empty.copy()}
    rows = np.arange(batch)
    columns = np.arange(length)[None, :]
    token_ids = np.full((batch, length), pad_id, dtype="int32")
    token_ids[:, : len(prefix)] = prefix

    def place(start, ids, row_lengths, specials_after):
        """Each row's pieces from column `start` (per row), then the special
        tokens `specials_after`; returns where the next part starts."""
        end = start + row_lengths[:, None]  # (B, 1)
        token_ids[(columns >= start) & (columns < end)] = _flat(ids, row_lengths)
        for offset, token in enumerate(specials_after):
            token_ids[rows, end[:, 0] + offset] = token
        return end + len(specials_after)

    start = np.full((batch, 1), len(prefix))
    segment_ids = np.zeros((batch, length), dtype="int32")
    if second_ids is None:
        place(start, first_ids, first_lengths, suffix)
    else:
        second_start = place(start, first_ids, first_lengths, middle)
        end = place(second_start, second_ids, second_lengths, suffix)
        segment_ids[(columns >= second_start) & (columns < end)] = second_segment
    padding_mask = (columns < lengths[:, None]).astype("int32")
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


def _encode_fast(engine, texts):
    """The engine's encodings of `texts` for their ids alone: without offsets
    (nor token strings) with `encode_batch_fast` (tokenizers >= 0.20), which
    skips a character-offset table per text."""
    if not texts:
        return []
    encode = getattr(engine, "encode_batch_fast", engine.encode_batch)
    return encode(texts, add_special_tokens=False)


def _flat(id_lists, lengths):
    """The first `lengths[i]` ids of each list, end to end, as int32."""
    total = int(lengths.sum())
    pieces = (
        ids if len(ids) == n else ids[:n] for ids, n in zip(id_lists, lengths.tolist(), strict=True)
    )
    return np.fromiter(chain.from_iterable(pieces), dtype=np.int32, count=total)
