"""WordPiece tokenization exactly as Google's BERT does it, on the HF
`tokenizers` engine (Rust), with encoding to model inputs on top."""

import json
import os
import re
from itertools import chain

import numpy as np

from kerastack.bert.convert_hf import checkpoint_folder

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def read_vocabulary(path):
    """`{token: id}` of a `vocab.txt` (one token a line, the id its line number)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"No vocabulary file at {path}.")
    with open(path, encoding="utf-8") as file:
        tokens = [line.rstrip("\n") for line in file]
    if tokens and tokens[-1] == "":
        tokens.pop()
    vocabulary = {}
    for index, token in enumerate(tokens):
        if token in vocabulary:
            raise ValueError(
                f"{path}: token {token!r} appears twice "
                f"(lines {vocabulary[token] + 1} and {index + 1})."
            )
        vocabulary[token] = index
    return vocabulary


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


class BertTokenizer:
    """Google BERT's WordPiece tokenizer.

    Text is cleaned (control characters dropped, whitespace normalized), CJK
    characters are split apart, lower-cased and stripped of accents for an
    uncased vocabulary, split on whitespace and punctuation, and each word
    cut into the longest pieces of the vocabulary (`##` marks a piece inside
    a word). A word longer than `max_characters_per_word`, or one that no
    pieces spell, becomes one `[UNK]`. Special tokens written in the text
    (`[MASK]`, `[SEP]`, ...) are kept whole.

    Args:
        vocabulary: path of a `vocab.txt`, or a `{token: id}` dict, or a list
            of tokens (the id is the position).
        lowercase: bool, lower-case and strip accents (uncased vocabularies).
        strip_accents: bool or None; None follows `lowercase`.
        max_characters_per_word: int, longer words become `[UNK]`.
    """

    def __init__(self, vocabulary, lowercase=True, strip_accents=None, max_characters_per_word=100):
        if isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = read_vocabulary(os.fspath(vocabulary))
        elif isinstance(vocabulary, (list, tuple)):
            vocabulary = {token: index for index, token in enumerate(vocabulary)}
        else:
            vocabulary = dict(vocabulary)
        missing = [token for token in SPECIAL_TOKENS if token not in vocabulary]
        if missing:
            raise ValueError(f"The vocabulary lacks the special tokens {missing}.")
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
    def from_folder(cls, folder, lowercase=None):
        """The tokenizer of a checkpoint folder (or Hub model name), from its
        `vocab.txt`.

        Unless `lowercase` is given, it comes from HF's
        `tokenizer_config.json` (`do_lower_case`, `strip_accents`) when the
        folder has one, and otherwise from the folder's name as Google names
        its releases: `cased_...` and `multi_cased_...` keep case, all
        others (`uncased_...`, `chinese_...`) are lower-cased.
        """
        folder = checkpoint_folder(folder)
        strip_accents = None
        config_path = os.path.join(folder, "tokenizer_config.json")
        if lowercase is None and os.path.exists(config_path):
            with open(config_path, encoding="utf-8") as file:
                config = json.load(file)
            lowercase = bool(config.get("do_lower_case", True))
            strip_accents = config.get("strip_accents")
        if lowercase is None:
            name = os.path.basename(os.path.normpath(folder)).lower()
            lowercase = not ("cased" in name and "uncased" not in name)
        return cls(os.path.join(folder, "vocab.txt"), lowercase, strip_accents)

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    @staticmethod
    def _check(texts):
        texts = list(texts)
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"Texts must be str, received {type(text).__name__}: {text!r}.")
        return texts

    def _ids(self, texts):
        """The ids of each text's word pieces.

        Plain texts (most) take the plain-text engine; the others are cut
        into runs of lines, plain runs taking that engine too and the rest
        the full one. Neither engine computes offsets.
        """
        plain, other = [], []
        layout = []  # per text, its runs: (plain?, index in plain or other)
        for text in self._check(texts):
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
        return self.tokenize_batch([text])[0]

    def tokenize_batch(self, texts):
        if len(self.inverse_vocabulary) != len(self.vocabulary):  # an id with two tokens
            encodings = self._engine.encode_batch(self._check(texts), add_special_tokens=False)
            return [encoding.tokens for encoding in encodings]
        tokens = self.inverse_vocabulary
        return [[tokens[i] for i in ids] for ids in self._ids(texts)]

    def token_ids(self, text):
        """The ids of `text`'s word pieces (no [CLS] or [SEP])."""
        return self._ids([text])[0]

    def offsets(self, text):
        """`(start, end)` character offsets in `text` of each word piece
        (keras-bert's `rematch`, for the pieces of `tokenize(text)`)."""
        (text,) = self._check([text])
        encoding = self._engine.encode(text, add_special_tokens=False)
        return [tuple(offset) for offset in encoding.offsets]

    def ids_to_tokens(self, ids):
        unknown = [int(i) for i in ids if int(i) not in self.inverse_vocabulary]
        if unknown:
            raise ValueError(
                f"Unknown token ids {unknown}: "
                f"the vocabulary has ids 0..{self.vocabulary_size - 1}."
            )
        return [self.inverse_vocabulary[int(i)] for i in ids]

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
        batch = self.encode_batch([first], None if second is None else [second], max_length)
        return {name: values[0] for name, values in batch.items()}

    def encode_batch(self, firsts, seconds=None, max_length=None):
        """`encode` for lists of texts (and pairs); without `max_length` the
        batch is padded to its longest. Returns arrays `(B, T)`."""
        if isinstance(firsts, str) or isinstance(seconds, str):
            raise TypeError("encode_batch takes lists of texts; encode takes one text.")
        firsts = list(firsts)
        seconds = None if seconds is None else list(seconds)
        if seconds is not None and len(seconds) != len(firsts):
            raise ValueError(f"{len(firsts)} first texts but {len(seconds)} second texts.")
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
