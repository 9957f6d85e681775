"""ALBERT's SentencePiece tokenizer (the `sentencepiece` library), with
ALBERT's text preprocessing and encoding to model inputs."""

import os
import re
import unicodedata

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

SPECIAL_TOKENS = ("<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]")
WORD_START = "\u2581"  # SentencePiece's mark of a piece that starts a word


class AlbertTokenizer:
    """ALBERT's tokenizer: ALBERT's preprocessing, then a SentencePiece model.

    Text is stripped and its runs of whitespace made single spaces, ```` ``
    ```` and `''` become `"`, accents are removed (unless `keep_accents`) and
    it is lower-cased (with `lowercase`); the SentencePiece model then cuts
    it into pieces. As ALBERT does, a piece of digits ending in a comma
    (`"▁1,"`) is cut again without the comma, so that numbers tokenize alike
    with or without one. Special tokens written in the text (`[MASK]`, ...)
    are kept whole.

    Args:
        proto: path of a SentencePiece `.model` file (ALBERT's `spiece.model`),
            or its bytes. It must hold `<pad>`, `<unk>`, `[CLS]`, `[SEP]` and
            `[MASK]`.
        lowercase: bool (ALBERT's releases are uncased).
        keep_accents: bool.

    Every `str` tokenizes but one holding a lone surrogate (no Unicode
    character), which is a `ValueError` naming its position, as are texts
    that are not `str`. Ids are checked: ints (Python or NumPy) in
    `0..vocabulary_size - 1`. A model file that SentencePiece cannot read,
    or whose pieces are not distinct UTF-8 strings, is a `ValueError` naming
    the file. (The format has no checksum: a damaged file that still reads
    cannot be told from a good one.)

    Example:

    A tiny word-level model, trained here (`AlbertTokenizer.from_folder`
    reads a release's `spiece.model`):

    >>> import io, sentencepiece
    >>> model = io.BytesIO()
    >>> sentencepiece.SentencePieceTrainer.train(
    ...     sentence_iterator=iter(["hello world", "hello world", "hello there"]),
    ...     model_writer=model, model_type="word", vocab_size=8, pad_id=0, unk_id=1,
    ...     bos_id=-1, eos_id=-1, control_symbols=["[CLS]", "[SEP]", "[MASK]"], minloglevel=2)
    >>> tokenizer = AlbertTokenizer(model.getvalue())
    >>> tokenizer.tokenize("Héllo  World [MASK]")
    ['▁hello', '▁world', '[MASK]']
    >>> tokenizer.encode("hello", "there", max_length=6)["token_ids"].tolist()
    [2, 5, 3, 7, 3, 0]
    """

    def __init__(self, proto, lowercase=True, keep_accents=False):
        import sentencepiece

        source = "The SentencePiece model"
        if isinstance(proto, (str, os.PathLike)):
            source = os.fspath(proto)
            if not os.path.exists(source):
                raise FileNotFoundError(f"No SentencePiece model at {source}.")
            with open(source, "rb") as file:
                proto = file.read()
        elif not isinstance(proto, (bytes, bytearray, memoryview)):
            raise ValueError(
                "proto must be a SentencePiece model's path or bytes, received "
                f"{type(proto).__name__}."
            )
        self.lowercase = check_bool("lowercase", lowercase)
        self.keep_accents = check_bool("keep_accents", keep_accents)
        self._processor = sentencepiece.SentencePieceProcessor()
        try:
            self._processor.LoadFromSerializedProto(bytes(proto))
            size = self._processor.GetPieceSize()
            pieces = [self._processor.IdToPiece(i) for i in range(size)]
        except (RuntimeError, OSError, UnicodeDecodeError) as error:
            where = "the bytes given" if source == "The SentencePiece model" else source
            raise ValueError(f"Not a readable SentencePiece model: {where} ({error}).") from error
        self.vocabulary = {piece: i for i, piece in enumerate(pieces)}
        if len(self.vocabulary) != size:
            raise ValueError(f"{source} holds a piece twice.")
        missing = [t for t in SPECIAL_TOKENS if t not in self.vocabulary]
        if missing:
            raise ValueError(f"{source} lacks the special tokens {missing}.")
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (
            self.vocabulary[t] for t in SPECIAL_TOKENS
        )
        self._specials = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")

    @classmethod
    def from_folder(cls, folder, revision=None, **kwargs):
        """The tokenizer of a checkpoint folder (or Hub model name, at `revision`): its
        `spiece.model`."""
        folder = checkpoint_folder(folder, revision=revision)
        return cls(os.path.join(folder, "spiece.model"), **kwargs)

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    def preprocess(self, text):
        """ALBERT's text preprocessing (before SentencePiece)."""
        text = " ".join(check_text(text).strip().split())
        text = text.replace("``", '"').replace("''", '"')
        if not self.keep_accents:
            text = unicodedata.normalize("NFKD", text)
            text = "".join(c for c in text if not unicodedata.combining(c))
        return text.lower() if self.lowercase else text

    def _pieces(self, text):
        pieces = []
        for piece in self._processor.EncodeAsPieces(text):
            if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
                again = self._processor.EncodeAsPieces(piece[:-1].replace(WORD_START, ""))
                if piece[0] != WORD_START and again[0][0] == WORD_START:
                    again = again[1:] if len(again[0]) == 1 else [again[0][1:]] + again[1:]
                pieces += again + [piece[-1]]
            else:
                pieces.append(piece)
        return pieces

    def tokenize(self, text):
        """The pieces of `text`, e.g. `["▁hello", "▁world"]`."""
        check_text(text)
        pieces = []
        for part in self._specials.split(text):
            if part in SPECIAL_TOKENS:
                pieces.append(part)
            elif part.strip():
                pieces += self._pieces(self.preprocess(part))
        return pieces

    def token_ids(self, text):
        """The ids of `text`'s pieces (no [CLS] or [SEP])."""
        return [self._processor.PieceToId(piece) for piece in self.tokenize(text)]

    def ids_to_tokens(self, ids):
        """The pieces of `ids` (an id, a list or an integer array, nested as
        given); ids that are not ints in `0..vocabulary_size - 1` are a
        `ValueError` naming them."""
        ids = check_ids(ids, self.vocabulary_size)
        if isinstance(ids, int):
            return self._processor.IdToPiece(ids)
        return map_rows(ids, lambda row: [self._processor.IdToPiece(i) for i in row])

    def decode(self, ids, skip_special_tokens=False):
        """The (preprocessed) text of a sequence of ids (Hugging Face's name;
        keras-hub's is `detokenize`): the pieces joined, each word mark `▁`
        a space (none at either end); a list of texts for a batch (nested
        lists or a 2-D array). `skip_special_tokens` leaves out `<pad>`,
        `<unk>`, `[CLS]`, `[SEP]` and `[MASK]`. An id outside
        `0..vocabulary_size - 1` is a `ValueError` naming it.

        Example:

        >>> import io, sentencepiece
        >>> model = io.BytesIO()
        >>> sentencepiece.SentencePieceTrainer.train(
        ...     sentence_iterator=iter(["hello world", "hello world", "hello there"]),
        ...     model_writer=model, model_type="word", vocab_size=8, pad_id=0, unk_id=1,
        ...     bos_id=-1, eos_id=-1, control_symbols=["[CLS]", "[SEP]", "[MASK]"], minloglevel=2)
        >>> tokenizer = AlbertTokenizer(model.getvalue())
        >>> ids = tokenizer.encode("Héllo  World")["token_ids"]
        >>> tokenizer.decode(ids), tokenizer.decode(ids, skip_special_tokens=True)
        ('[CLS] hello world[SEP]', 'hello world')
        """
        skip = check_bool("skip_special_tokens", skip_special_tokens)
        skipped = {self.vocabulary[token] for token in SPECIAL_TOKENS} if skip else set()

        def text(row):
            pieces = (self._processor.IdToPiece(i) for i in row if i not in skipped)
            return "".join(pieces).replace(WORD_START, " ").strip()

        return map_rows(check_ids(ids, self.vocabulary_size), text)

    def detokenize(self, ids, skip_special_tokens=False):
        """keras-hub's name for `decode`."""
        return self.decode(ids, skip_special_tokens)

    def encode(self, first, second=None, max_length=None):
        """Model inputs for one text or a pair, as `BertTokenizer.encode`:
        `[CLS] first [SEP]` (segment 0) then `second [SEP]` (segment 1)."""
        first, second = check_pair(first, second)
        batch = self.encode_batch([first], None if second is None else [second], max_length)
        return {name: values[0] for name, values in batch.items()}

    def encode_batch(self, firsts, seconds=None, max_length=None):
        """`encode` for lists of texts (and pairs). Returns arrays `(B, T)`."""
        firsts, seconds = check_pairs(firsts, seconds)
        return pack_inputs(
            [self.token_ids(text) for text in firsts],
            None if seconds is None else [self.token_ids(text) for text in seconds],
            max_length,
            self.pad_id,
            prefix=[self.cls_id],
            middle=[self.sep_id],
            suffix=[self.sep_id],
        )
