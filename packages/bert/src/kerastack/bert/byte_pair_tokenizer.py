"""Byte-level BPE (GPT-2's tokenization, which RoBERTa kept) on the HF
`tokenizers` engine, with RoBERTa's encoding to model inputs on top."""

import os

import numpy as np

from kerastack.bert.bert_config import read_json_object
from kerastack.bert.convert_hf import checkpoint_folder
from kerastack.bert.tokenizer import pack_inputs


def read_merges(path):
    """The merge rules of a `merges.txt`, `[(left, right)]` by priority."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"No merges file at {path}.")
    merges = []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            line = line.rstrip("\n")
            if not line or (number == 1 and line.startswith("#version")):
                continue
            parts = line.split(" ")
            if len(parts) != 2:
                raise ValueError(f"{path}, line {number}: a merge is two tokens, read {line!r}.")
            merges.append(tuple(parts))
    return merges


def read_json_vocabulary(path):
    """`{token: id}` of a `vocab.json`, checked: ids are distinct integers."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"No vocabulary file at {path}.")
    vocabulary = read_json_object(path)
    if not all(isinstance(i, int) for i in vocabulary.values()):
        raise ValueError(f"{path} is not a {{token: id}} vocabulary.")
    if len(set(vocabulary.values())) != len(vocabulary):
        raise ValueError(f"{path} gives one id to two tokens.")
    return vocabulary


class BytePairTokenizer:
    """GPT-2's byte-level BPE tokenizer.

    Text is split by GPT-2's pattern (contractions, runs of letters, of
    digits, of other characters, and whitespace, a word keeping the space
    before it), each piece's UTF-8 bytes are written as printable characters
    (a space as `Ġ`), and the vocabulary's merge rules join them, highest
    priority first. Every text has a tokenization (no unknown token), and
    `detokenize` gives the text back. Special tokens written in the text are
    kept whole.

    Args:
        vocabulary: path of a `vocab.json`, or a `{token: id}` dict.
        merges: path of a `merges.txt`, or a list of `(left, right)` pairs
            (or `"left right"` strings), highest priority first.
        special_tokens: tokens of the vocabulary never split (default: those
            of GPT-2 and RoBERTa the vocabulary has).
        add_prefix_space: bool, tokenize a text as if a space preceded it.
    """

    SPECIAL_TOKENS = ("<|endoftext|>", "<s>", "</s>", "<pad>", "<unk>", "<mask>")

    def __init__(self, vocabulary, merges, special_tokens=None, add_prefix_space=False):
        from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

        if isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = read_json_vocabulary(os.fspath(vocabulary))
        vocabulary = dict(vocabulary)
        if isinstance(merges, (str, os.PathLike)):
            merges = read_merges(os.fspath(merges))
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]
        unknown = sorted({t for pair in merges for t in pair if t not in vocabulary})
        if unknown:
            raise ValueError(f"The merges use tokens the vocabulary lacks: {unknown[:10]}.")
        if special_tokens is None:
            special_tokens = [t for t in self.SPECIAL_TOKENS if t in vocabulary]
        missing = [t for t in special_tokens if t not in vocabulary]
        if missing:
            raise ValueError(f"The vocabulary lacks the special tokens {missing}.")
        self.vocabulary = vocabulary
        self.inverse_vocabulary = {index: token for token, index in vocabulary.items()}
        self.merges = merges
        self.special_tokens = list(special_tokens)
        self.add_prefix_space = add_prefix_space
        engine = Tokenizer(models.BPE(vocabulary, merges))
        engine.pre_tokenizer = pre_tokenizers.ByteLevel(
            add_prefix_space=add_prefix_space, use_regex=True
        )
        engine.decoder = decoders.ByteLevel()
        # RoBERTa's <mask> takes the space before it (as its tokenizer does).
        engine.add_special_tokens(
            [AddedToken(t, lstrip=t == "<mask>", normalized=False) for t in special_tokens]
        )
        self._engine = engine

    @classmethod
    def from_folder(cls, folder, **kwargs):
        """The tokenizer of a checkpoint folder (or Hub model name): its
        `vocab.json` and `merges.txt`."""
        folder = checkpoint_folder(folder)
        return cls(os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt"), **kwargs)

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

    def tokenize(self, text):
        """The byte-level pieces of `text`, e.g. `["Hello", "Ġworld"]`."""
        return self._engine.encode(*self._check([text]), add_special_tokens=False).tokens

    def token_ids(self, text):
        """The ids of `text`'s pieces (no special tokens added)."""
        return self.token_ids_batch([text])[0]

    def token_ids_batch(self, texts):
        encodings = self._engine.encode_batch(self._check(texts), add_special_tokens=False)
        return [encoding.ids for encoding in encodings]

    def ids_to_tokens(self, ids):
        ids = [int(i) for i in np.asarray(ids).reshape(-1)]
        unknown = [i for i in ids if i not in self.inverse_vocabulary]
        if unknown:
            raise ValueError(
                f"Unknown token ids {unknown}: the vocabulary has {self.vocabulary_size} ids."
            )
        return [self.inverse_vocabulary[i] for i in ids]

    def detokenize(self, ids, skip_special_tokens=False):
        """The text of a sequence of ids (special tokens kept unless
        `skip_special_tokens`)."""
        self.ids_to_tokens(ids)  # checks the ids
        ids = [int(i) for i in np.asarray(ids).reshape(-1)]
        return self._engine.decode(ids, skip_special_tokens=skip_special_tokens)


class RobertaTokenizer(BytePairTokenizer):
    """RoBERTa's tokenizer: byte-level BPE (see `BytePairTokenizer`) and
    RoBERTa's model inputs, `<s> first </s>` or `<s> first </s></s> second
    </s>`, cut longest-first to `max_length` and padded with `<pad>`.

    Args:
        vocabulary, merges, add_prefix_space: as `BytePairTokenizer`; the
            vocabulary must hold `<s>`, `</s>`, `<pad>`, `<unk>` and `<mask>`.
    """

    def __init__(self, vocabulary, merges, add_prefix_space=False):
        super().__init__(
            vocabulary,
            merges,
            special_tokens=["<s>", "</s>", "<pad>", "<unk>", "<mask>"],
            add_prefix_space=add_prefix_space,
        )
        self.start_id, self.end_id, self.pad_id, self.unk_id, self.mask_id = (
            self.vocabulary[t] for t in self.special_tokens
        )

    def encode(self, first, second=None, max_length=None):
        """Model inputs for one text or a pair: a dict of int32 arrays `(T,)`,
        `token_ids` and `padding_mask` (1 on real tokens)."""
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
        inputs = pack_inputs(
            self.token_ids_batch(firsts),
            None if seconds is None else self.token_ids_batch(seconds),
            max_length,
            self.pad_id,
            prefix=[self.start_id],
            middle=[self.end_id, self.end_id],
            suffix=[self.end_id],
        )
        return {"token_ids": inputs["token_ids"], "padding_mask": inputs["padding_mask"]}
