"""T5's tokenizer: a SentencePiece model (the `sentencepiece` library) with
T5's 100 sentinel tokens `<extra_id_N>` above its pieces, and `</s>` after
each text."""

import os
import re

from kerastack.tokenizers.bert_tokenizer import (
    check_bool,
    check_ids,
    check_int,
    check_pair,
    check_pairs,
    check_text,
    map_rows,
    pack_inputs,
)
from kerastack.tokenizers.files import checkpoint_folder

__all__ = ["T5Tokenizer"]

WORD_START = "\u2581"  # SentencePiece's mark of a piece that starts a word
# Unicode's White_Space characters: transformers' tokenizer splits words at
# them before the SentencePiece model sees the text.
_WHITESPACE = re.compile(
    "[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
)
# The pieces T5's SentencePiece models begin with.
MODEL_PIECES = ("<pad>", "</s>", "<unk>")


class T5Tokenizer:
    """T5's tokenizer (Raffel et al., 2020), giving the ids transformers'
    `T5Tokenizer` gives.

    The SentencePiece model's pieces keep their ids (`<pad>` 0, `</s>` 1,
    `<unk>` 2 in T5's, mT5's and T5.1.1's releases); the sentinel tokens
    follow them from the top down: `<extra_id_0>` is the last id,
    `<extra_id_{extra_ids - 1}>` the first after the pieces. Sentinels and
    the special tokens written in a text are kept whole; the rest is split
    into words at Unicode's whitespace and cut by the model. `</s>` ends
    each text; a pair is `first </s> second </s>`.

    Args:
        proto: path of a SentencePiece `.model` file (T5's `spiece.model`),
            or its bytes. Its first pieces must be `<pad>`, `</s>`, `<unk>`.
        extra_ids: int, the sentinel tokens (T5: 100).

    A model file that SentencePiece cannot read, or that lacks those
    pieces, is a `ValueError` naming the file; texts that are not `str`
    and ids outside `0..vocabulary_size - 1` are `ValueError`s too.

    Example:

    A tiny word-level model, trained here (`T5Tokenizer.from_folder` reads
    a release's `spiece.model`):

    >>> import io, sentencepiece
    >>> model = io.BytesIO()
    >>> sentencepiece.SentencePieceTrainer.train(
    ...     sentence_iterator=iter(["hello world", "hello world", "hello there"]),
    ...     model_writer=model, model_type="word", vocab_size=6, pad_id=0, eos_id=1,
    ...     unk_id=2, bos_id=-1, minloglevel=2)
    >>> tokenizer = T5Tokenizer(model.getvalue(), extra_ids=3)
    >>> tokenizer.tokenize("hello <extra_id_0> world")
    ['▁hello', '<extra_id_0>', '▁world']
    >>> tokenizer.encode("hello <extra_id_0>")["token_ids"].tolist()  # ... </s>
    [3, 8, 1]
    >>> tokenizer.vocabulary_size, tokenizer.sentinel_id(2)
    (9, 6)
    """

    def __init__(self, proto, extra_ids=100):
        import sentencepiece

        proto, source = _read_proto(proto)
        self.extra_ids = check_int("extra_ids", extra_ids, minimum=0)
        self._processor = sentencepiece.SentencePieceProcessor()
        try:
            self._processor.LoadFromSerializedProto(proto)
            size = self._processor.GetPieceSize()
            pieces = [self._processor.IdToPiece(i) for i in range(size)]
        except (RuntimeError, OSError, UnicodeDecodeError) as error:
            raise ValueError(f"Not a readable SentencePiece model: {source} ({error}).") from error
        if tuple(pieces[: len(MODEL_PIECES)]) != MODEL_PIECES:
            raise ValueError(
                f"{source} begins with the pieces {pieces[: len(MODEL_PIECES)]}, not "
                f"{list(MODEL_PIECES)}: not a T5 SentencePiece model."
            )
        sentinels = [f"<extra_id_{i}>" for i in range(self.extra_ids - 1, -1, -1)]
        self._tokens = pieces + sentinels
        self.vocabulary = {}
        for index, token in enumerate(self._tokens):
            self.vocabulary.setdefault(token, index)
        self.pad_id, self.end_id, self.unk_id = (self.vocabulary[t] for t in MODEL_PIECES)
        # Kept whole where a text holds them (as transformers does), the
        # longest first.
        self.special_tokens = list(MODEL_PIECES) + sentinels
        self._specials = re.compile(
            "(" + "|".join(re.escape(t) for t in sorted(self.special_tokens, key=len)[::-1]) + ")"
        )

    @classmethod
    def from_folder(cls, folder, revision=None, **kwargs):
        """The tokenizer of a checkpoint folder (or Hub model name, at `revision`): its
        `spiece.model`."""
        folder = checkpoint_folder(folder, revision=revision)
        return cls(os.path.join(folder, "spiece.model"), **kwargs)

    @property
    def vocabulary_size(self):
        """The pieces and the sentinels (a model's vocabulary may be larger:
        T5's has 32,128 rows for 32,100 tokens)."""
        return len(self._tokens)

    def sentinel_id(self, index):
        """The id of `<extra_id_{index}>`."""
        index = check_int("index", index, minimum=0)
        if index >= self.extra_ids:
            raise ValueError(f"There are {self.extra_ids} sentinels; received index={index}.")
        return self.vocabulary_size - 1 - index

    def _encode(self, text):
        check_text(text)
        result = []
        for part in self._specials.split(text):
            if part in self.vocabulary and part in self.special_tokens:
                result.append((self.vocabulary[part], part))
                continue
            words = [word for word in _WHITESPACE.split(part) if word]
            if any(WORD_START in word for word in words):
                for word in words:
                    result += self._encode_word(word)
            elif words:
                result += self._encode_words(" ".join(words))
        return result

    def _encode_words(self, words):
        ids = self._processor.EncodeAsIds(words)
        pieces = self._processor.EncodeAsPieces(words)
        return list(zip(ids, pieces, strict=True))

    def _encode_word(self, word):
        """A word holding `▁` itself, as transformers cuts it: `▁` before it
        (unless it begins with one), then cut before each `▁`, each part
        encoded alone (a lone `▁` is that piece)."""
        if not word.startswith(WORD_START):
            word = WORD_START + word
        result = []
        for chunk in re.findall(f"{WORD_START}[^{WORD_START}]*", word):
            if len(chunk) > 1:
                result += self._encode_words(chunk[1:])
            else:
                result.append((self.vocabulary.get(WORD_START, self.unk_id), WORD_START))
        return result

    def tokenize(self, text):
        """The pieces of `text`, e.g. `["▁hello", "▁world"]` (unknown
        characters come out as themselves; `token_ids` gives `<unk>`)."""
        return [piece for _, piece in self._encode(text)]

    def token_ids(self, text):
        """The ids of `text`'s pieces (no `</s>` added)."""
        return [index for index, _ in self._encode(text)]

    def ids_to_tokens(self, ids):
        """The tokens of `ids` (an id, a list or an integer array, nested as
        given); ids that are not ints in `0..vocabulary_size - 1` are a
        `ValueError` naming them."""
        ids = check_ids(ids, self.vocabulary_size)
        if isinstance(ids, int):
            return self._tokens[ids]
        return map_rows(ids, lambda row: [self._tokens[i] for i in row])

    def detokenize(self, ids, skip_special_tokens=False):
        """The text of a sequence of ids (`<pad>`, `</s>` and the sentinels
        kept unless `skip_special_tokens`); a list of texts for a batch."""
        skip = check_bool("skip_special_tokens", skip_special_tokens)
        specials = set(self.special_tokens) - {"<unk>"}

        def text(row):
            tokens = [self._tokens[i] for i in row]
            if skip:
                tokens = [t for t in tokens if t not in specials]
            return "".join(tokens).replace(WORD_START, " ").strip()

        return map_rows(check_ids(ids, self.vocabulary_size), text)

    def decode(self, ids, skip_special_tokens=False):
        """Hugging Face's name for `detokenize`: the pieces joined, each
        word mark `▁` a space (none at either end); a list of texts for a
        batch.

        Example:

        >>> import io, sentencepiece
        >>> model = io.BytesIO()
        >>> sentencepiece.SentencePieceTrainer.train(
        ...     sentence_iterator=iter(["hello world", "hello world", "hello there"]),
        ...     model_writer=model, model_type="word", vocab_size=6, pad_id=0, eos_id=1,
        ...     unk_id=2, bos_id=-1, minloglevel=2)
        >>> tokenizer = T5Tokenizer(model.getvalue(), extra_ids=3)
        >>> ids = tokenizer.encode("hello  world")["token_ids"]
        >>> tokenizer.decode(ids), tokenizer.decode(ids, skip_special_tokens=True)
        ('hello world</s>', 'hello world')
        """
        return self.detokenize(ids, skip_special_tokens)

    def encode(self, first, second=None, max_length=None):
        """Model inputs for one text or a pair: a dict of int32 arrays `(T,)`,
        `token_ids` and `padding_mask` (1 on real tokens)."""
        first, second = check_pair(first, second)
        batch = self.encode_batch([first], None if second is None else [second], max_length)
        return {name: values[0] for name, values in batch.items()}

    def encode_batch(self, firsts, seconds=None, max_length=None):
        """`encode` for lists of texts (and pairs): `first </s>` or `first
        </s> second </s>`, cut longest-first to `max_length` and padded with
        `<pad>` on the right (to the longest row without `max_length`).
        Returns int32 arrays `(B, T)`."""
        firsts, seconds = check_pairs(firsts, seconds)
        inputs = pack_inputs(
            [self.token_ids(text) for text in firsts],
            None if seconds is None else [self.token_ids(text) for text in seconds],
            max_length,
            self.pad_id,
            prefix=[],
            middle=[self.end_id],
            suffix=[self.end_id],
        )
        return {"token_ids": inputs["token_ids"], "padding_mask": inputs["padding_mask"]}


def _read_proto(proto):
    """`(bytes, source)` of a SentencePiece model given as a path or bytes."""
    if isinstance(proto, (str, os.PathLike)):
        source = os.fspath(proto)
        if not os.path.exists(source):
            raise FileNotFoundError(f"No SentencePiece model at {source}.")
        with open(source, "rb") as file:
            return file.read(), source
    if isinstance(proto, (bytes, bytearray, memoryview)):
        return bytes(proto), "The SentencePiece model"
    raise ValueError(
        f"proto must be a SentencePiece model's path or bytes, received {type(proto).__name__}."
    )
