"""XLM-RoBERTa's and CamemBERT's tokenizers: a SentencePiece model (the
`sentencepiece` library) whose ids are shifted to fairseq's dictionary
(`<s>`, `<pad>`, `</s>`, `<unk>` first, `<mask>` last), with RoBERTa's
model inputs."""

import os
import re

from kerastack.tokenizers.bert_tokenizer import (
    check_bool,
    check_ids,
    check_pair,
    check_pairs,
    check_text,
    map_rows,
    pack_inputs,
)
from kerastack.tokenizers.files import checkpoint_folder

__all__ = ["CamembertTokenizer", "XLMRobertaTokenizer"]

WORD_START = "\u2581"  # SentencePiece's mark of a piece that starts a word
# Unicode's White_Space characters: transformers' tokenizer splits words at
# them before the SentencePiece model sees the text (Python's `str.split`
# would also split at U+001C..U+001F, which are not White_Space).
_WHITESPACE = re.compile(
    "[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
)


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


class XLMRobertaTokenizer:
    """XLM-RoBERTa's tokenizer (Conneau et al., 2020): a SentencePiece model
    whose ids follow fairseq's dictionary, as transformers'
    `XLMRobertaTokenizer` gives them.

    fairseq puts its own four tokens first, `<s>` 0, `<pad>` 1, `</s>` 2,
    `<unk>` 3, then the SentencePiece model's pieces from its fourth on
    (SentencePiece id `i` is id `i + 1`; the model's own `<unk>`, `<s>`
    and `</s>`, its ids 0 to 2, are fairseq's), and `<mask>` last. The
    special tokens written in a text are kept whole, and words are split at
    Unicode's whitespace before the model cuts them, as transformers does.
    Model inputs are
    RoBERTa's: `<s> first </s>` or `<s> first </s></s> second </s>`, cut
    longest-first to `max_length` and padded with `<pad>`.

    Args:
        proto: path of a SentencePiece `.model` file (XLM-R's
            `sentencepiece.bpe.model`), or its bytes. Its first three pieces
            must be `<unk>`, `<s>` and `</s>` (SentencePiece's defaults,
            which fairseq's models use).

    A model file that SentencePiece cannot read, or that lacks those pieces,
    is a `ValueError` naming the file; texts that are not `str` and ids
    outside `0..vocabulary_size - 1` are `ValueError`s too.

    Example:

    A tiny word-level model, trained here (`XLMRobertaTokenizer.from_folder`
    reads a release's `sentencepiece.bpe.model`):

    >>> import io, sentencepiece
    >>> model = io.BytesIO()
    >>> sentencepiece.SentencePieceTrainer.train(
    ...     sentence_iterator=iter(["hello world", "hello world", "hello there"]),
    ...     model_writer=model, model_type="word", vocab_size=6, minloglevel=2)
    >>> tokenizer = XLMRobertaTokenizer(model.getvalue())
    >>> tokenizer.tokenize("hello world <mask>")
    ['▁hello', '▁world', '<mask>']
    >>> tokenizer.encode("hello", "there")["token_ids"].tolist()  # <s> a </s></s> b </s>
    [0, 4, 2, 2, 6, 2]
    >>> tokenizer.token_ids("hello moon")  # <unk> is 3
    [4, 3]
    >>> tokenizer.vocabulary_size, tokenizer.mask_id
    (8, 7)
    """

    # fairseq's tokens before the SentencePiece pieces, and the first piece
    # of the model kept (those before it are fairseq's own).
    FAIRSEQ_TOKENS = ("<s>", "<pad>", "</s>", "<unk>")
    FIRST_PIECE = 3
    # The SentencePiece pieces the model must begin with.
    MODEL_PIECES = ("<unk>", "<s>", "</s>")

    def __init__(self, proto):
        import sentencepiece

        proto, source = _read_proto(proto)
        self._processor = sentencepiece.SentencePieceProcessor()
        try:
            self._processor.LoadFromSerializedProto(proto)
            size = self._processor.GetPieceSize()
            pieces = [self._processor.IdToPiece(i) for i in range(size)]
        except (RuntimeError, OSError, UnicodeDecodeError) as error:
            raise ValueError(f"Not a readable SentencePiece model: {source} ({error}).") from error
        if tuple(pieces[: len(self.MODEL_PIECES)]) != self.MODEL_PIECES:
            raise ValueError(
                f"{source} begins with the pieces {pieces[: len(self.MODEL_PIECES)]}, not "
                f"{list(self.MODEL_PIECES)}: not a fairseq SentencePiece model."
            )
        tokens = list(self.FAIRSEQ_TOKENS) + pieces[self.FIRST_PIECE :] + ["<mask>"]
        self.vocabulary = {}
        for index, token in enumerate(tokens):
            self.vocabulary.setdefault(token, index)
        self._tokens = tokens
        # Each SentencePiece id's id here: its own first pieces are fairseq's.
        offset = len(self.FAIRSEQ_TOKENS) - self.FIRST_PIECE
        self._from_piece_id = [
            self.vocabulary.get(pieces[i], self.vocabulary["<unk>"])
            if i < self.FIRST_PIECE
            else i + offset
            for i in range(size)
        ]
        self.start_id = self.vocabulary["<s>"]
        self.pad_id = self.vocabulary["<pad>"]
        self.end_id = self.vocabulary["</s>"]
        self.unk_id = self.vocabulary["<unk>"]
        self.mask_id = len(tokens) - 1
        # Kept whole where a text holds them (as transformers does).
        self.special_tokens = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        self._specials = re.compile(
            "(" + "|".join(re.escape(t) for t in sorted(self.special_tokens, key=len)[::-1]) + ")"
        )

    @classmethod
    def from_folder(cls, folder, revision=None, **kwargs):
        """The tokenizer of a checkpoint folder (or Hub model name, at `revision`): its
        `sentencepiece.bpe.model`."""
        folder = checkpoint_folder(folder, revision=revision)
        return cls(os.path.join(folder, "sentencepiece.bpe.model"), **kwargs)

    @property
    def vocabulary_size(self):
        return len(self._tokens)

    def tokenize(self, text):
        """The pieces of `text`, e.g. `["▁hello", "▁world"]` (unknown
        characters come out as themselves; `token_ids` gives `<unk>`)."""
        return [self._tokens[i] if i != self.unk_id else piece for i, piece in self._encode(text)]

    def _encode(self, text):
        check_text(text)
        result = []
        for part in self._specials.split(text):
            if part in self.special_tokens:
                result.append((self.vocabulary[part], part))
            else:
                words = " ".join(word for word in _WHITESPACE.split(part) if word)
                if not words:
                    continue
                ids = self._processor.EncodeAsIds(words)
                pieces = self._processor.EncodeAsPieces(words)
                result += [(self._from_piece_id[i], p) for i, p in zip(ids, pieces, strict=True)]
        return result

    def token_ids(self, text):
        """The ids of `text`'s pieces (no special tokens added)."""
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
        """The text of a sequence of ids (special tokens kept unless
        `skip_special_tokens`), as transformers' `decode` gives it; a list
        of texts for a batch."""
        skip = check_bool("skip_special_tokens", skip_special_tokens)
        specials = set(self.special_tokens) | set(self.FAIRSEQ_TOKENS)

        def text(row):
            tokens = [self._tokens[i] for i in row]
            if skip:
                tokens = [t for t in tokens if t not in specials]
            # As transformers: only the first word's space is dropped.
            text = "".join(tokens).replace(WORD_START, " ")
            return text[1:] if text.startswith(" ") else text

        return map_rows(check_ids(ids, self.vocabulary_size), text)

    def decode(self, ids, skip_special_tokens=False):
        """Hugging Face's name for `detokenize`, giving what transformers'
        `decode` gives; a list of texts for a batch.

        Example:

        >>> import io, sentencepiece
        >>> model = io.BytesIO()
        >>> sentencepiece.SentencePieceTrainer.train(
        ...     sentence_iterator=iter(["hello world", "hello world", "hello there"]),
        ...     model_writer=model, model_type="word", vocab_size=6, minloglevel=2)
        >>> tokenizer = XLMRobertaTokenizer(model.getvalue())
        >>> ids = tokenizer.encode("hello\tworld")["token_ids"]
        >>> tokenizer.decode(ids), tokenizer.decode(ids, skip_special_tokens=True)
        ('<s> hello world</s>', 'hello world')
        """
        return self.detokenize(ids, skip_special_tokens)

    def encode(self, first, second=None, max_length=None):
        """Model inputs for one text or a pair: a dict of int32 arrays `(T,)`,
        `token_ids` and `padding_mask` (1 on real tokens)."""
        first, second = check_pair(first, second)
        batch = self.encode_batch([first], None if second is None else [second], max_length)
        return {name: values[0] for name, values in batch.items()}

    def encode_batch(self, firsts, seconds=None, max_length=None):
        """`encode` for lists of texts (and pairs); without `max_length` the
        batch is padded to its longest. Returns arrays `(B, T)`."""
        firsts, seconds = check_pairs(firsts, seconds)
        inputs = pack_inputs(
            [self.token_ids(text) for text in firsts],
            None if seconds is None else [self.token_ids(text) for text in seconds],
            max_length,
            self.pad_id,
            prefix=[self.start_id],
            middle=[self.end_id, self.end_id],
            suffix=[self.end_id],
        )
        return {"token_ids": inputs["token_ids"], "padding_mask": inputs["padding_mask"]}


class CamembertTokenizer(XLMRobertaTokenizer):
    """CamemBERT's tokenizer (Martin et al., 2020): `XLMRobertaTokenizer`
    with CamemBERT's fairseq dictionary, as transformers'
    `CamembertTokenizer` gives it.

    CamemBERT's dictionary begins `<s>NOTUSED` 0, `<pad>` 1, `</s>NOTUSED`
    2, `<unk>` 3, `<unk>NOTUSED` 4, then every SentencePiece piece but its
    `<unk>` (SentencePiece id `i` is id `i + 4`, so the `<s>` and `</s>`
    the model inputs use are the model's own, 5 and 6 in CamemBERT's
    release), and `<mask>` last. The `NOTUSED` tokens are never produced
    (written in a text, they are cut as other text is, as transformers does).

    Example:

    >>> import io, sentencepiece
    >>> model = io.BytesIO()
    >>> sentencepiece.SentencePieceTrainer.train(
    ...     sentence_iterator=iter(["bonjour le monde", "bonjour le monde"]),
    ...     model_writer=model, model_type="word", vocab_size=6, minloglevel=2)
    >>> tokenizer = CamembertTokenizer(model.getvalue())
    >>> tokenizer.start_id, tokenizer.end_id, tokenizer.pad_id, tokenizer.mask_id
    (5, 6, 1, 10)
    >>> tokenizer.encode("bonjour le monde")["token_ids"].tolist()
    [5, 7, 8, 9, 6]
    """

    FAIRSEQ_TOKENS = ("<s>NOTUSED", "<pad>", "</s>NOTUSED", "<unk>", "<unk>NOTUSED")
    FIRST_PIECE = 1
