"""WordPiece tokenization exactly as Google's BERT does it, on the HF
`tokenizers` engine (Rust), with encoding to model inputs on top."""

import json
import os

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

    def _encode(self, texts):
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"Texts must be str, received {type(text).__name__}: {text!r}.")
        return self._engine.encode_batch(list(texts), add_special_tokens=False)

    def tokenize(self, text):
        """The word pieces of `text`, e.g. `["un", "##aff", "##able"]`."""
        return self._encode([text])[0].tokens

    def tokenize_batch(self, texts):
        return [encoding.tokens for encoding in self._encode(texts)]

    def token_ids(self, text):
        """The ids of `text`'s word pieces (no [CLS] or [SEP])."""
        return self._encode([text])[0].ids

    def offsets(self, text):
        """`(start, end)` character offsets in `text` of each word piece
        (keras-bert's `rematch`, for the pieces of `tokenize(text)`)."""
        return [tuple(offset) for offset in self._encode([text])[0].offsets]

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
        if max_length is not None and max_length < (3 if seconds is not None else 2):
            raise ValueError(f"max_length={max_length} leaves no room for the special tokens.")
        first_ids = [encoding.ids for encoding in self._encode(firsts)]
        second_ids = (
            [encoding.ids for encoding in self._encode(seconds)]
            if seconds is not None
            else [None] * len(firsts)
        )
        rows = [
            self._pack(list(a), None if b is None else list(b), max_length)
            for a, b in zip(first_ids, second_ids, strict=True)
        ]
        length = max_length or max(len(ids) for ids, _ in rows)
        token_ids = np.full((len(rows), length), self.pad_id, dtype="int32")
        segment_ids = np.zeros((len(rows), length), dtype="int32")
        padding_mask = np.zeros((len(rows), length), dtype="int32")
        for row, (ids, segments) in enumerate(rows):
            token_ids[row, : len(ids)] = ids
            segment_ids[row, : len(ids)] = segments
            padding_mask[row, : len(ids)] = 1
        return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}

    def _pack(self, a, b, max_length):
        if max_length is not None:
            budget = max_length - (3 if b is not None else 2)
            while len(a) + (len(b) if b is not None else 0) > budget:
                if b is None or len(a) > len(b):
                    a.pop()
                else:  # equal lengths: the second text loses one, as in Google's code
                    b.pop()
        ids = [self.cls_id] + a + [self.sep_id]
        segments = [0] * len(ids)
        if b is not None:
            ids += b + [self.sep_id]
            segments += [1] * (len(b) + 1)
        return ids, segments
