"""Byte-level BPE (GPT-2's tokenization, which RoBERTa kept) on the HF
`tokenizers` engine, with RoBERTa's encoding to model inputs on top."""

import os

from kerastack.tokenizers.bert_tokenizer import (
    _read_json,
    check_bool,
    check_ids,
    check_pair,
    check_pairs,
    check_text,
    check_texts,
    check_vocabulary,
    map_rows,
    pack_inputs,
    read_text,
)
from kerastack.tokenizers.files import checkpoint_folder


def read_merges(path):
    """The merge rules of a `merges.txt`, `[(left, right)]` by priority.

    A missing file is a `FileNotFoundError`; a file that is not UTF-8, or a
    line that is not two tokens, a `ValueError` naming the file and line.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "merges.txt")
    >>> with open(path, "w", encoding="utf-8") as file:
    ...     _ = file.write("#version: 0.2\\nĠ t\\nĠ a\\n")
    >>> read_merges(path)
    [('Ġ', 't'), ('Ġ', 'a')]
    """
    merges = []
    for number, line in enumerate(read_text(path, "merges").split("\n"), start=1):
        if not line or (number == 1 and line.startswith("#version")):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or "" in parts:
            raise ValueError(
                f"{os.fspath(path)}, line {number}: a merge is two tokens, read {line!r}."
            )
        merges.append(tuple(parts))
    return merges


def read_json_vocabulary(path):
    """`{token: id}` of a `vocab.json`, checked as `check_vocabulary` does
    (str tokens, int ids `0..n-1` each once); errors name the file.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "vocab.json")
    >>> with open(path, "w", encoding="utf-8") as file:
    ...     _ = file.write('{"<s>": 0, "</s>": 1, "hello": 2}')
    >>> read_json_vocabulary(path)["hello"]
    2
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"No vocabulary file at {path}.")
    return check_vocabulary(_read_json(path), path)


def check_merges(merges, vocabulary, source="merges", vocabulary_source="the vocabulary"):
    """Merge rules as `[(left, right)]`, checked against `vocabulary`: each
    a pair of tokens (or a `"left right"` string) whose tokens and whose
    merged token `left + right` the vocabulary holds. Anything else is a
    `ValueError` naming `source` (and `vocabulary_source`) and the rule.

    Example:

    >>> check_merges(["a b"], {"a": 0, "b": 1, "ab": 2})
    [('a', 'b')]
    """
    if isinstance(merges, (str, bytes)) or not isinstance(merges, (list, tuple)):
        raise ValueError(
            f"merges must be a merges.txt path or a list of pairs, received "
            f"{type(merges).__name__}."
        )
    checked = []
    for index, merge in enumerate(merges):
        pair = tuple(merge.split(" ")) if isinstance(merge, str) else merge
        if (
            not isinstance(pair, (list, tuple))
            or len(pair) != 2
            or not all(isinstance(token, str) and token for token in pair)
        ):
            raise ValueError(f"{source}, rule {index}: a merge is two tokens, read {merge!r}.")
        left, right = pair
        lacking = [token for token in (left, right, left + right) if token not in vocabulary]
        if lacking:
            raise ValueError(
                f"{source}, rule {index} ({left!r}, {right!r}): {vocabulary_source} lacks "
                f"{lacking}."
            )
        checked.append((left, right))
    return checked


class BytePairTokenizer:
    """GPT-2's byte-level BPE tokenizer.

    Text is split by GPT-2's pattern (contractions, runs of letters, of
    digits, of other characters, and whitespace, a word keeping the space
    before it), each piece's UTF-8 bytes are written as printable characters
    (a space as `Ġ`), and the vocabulary's merge rules join them, highest
    priority first. Every text has a tokenization (no unknown token), and
    `detokenize` gives the text back. Special tokens written in the text are
    kept whole.

    Every `str` tokenizes but one holding a lone surrogate (no Unicode
    character, and no UTF-8 bytes), which is a `ValueError` naming its
    position, as are texts that are not `str`. Ids are checked: ints
    (Python or NumPy) in `0..vocabulary_size - 1`.

    Args:
        vocabulary: path of a `vocab.json`, or a `{token: id}` dict (ids
            `0..n-1`, each once).
        merges: path of a `merges.txt`, or a list of `(left, right)` pairs
            (or `"left right"` strings), highest priority first.
        special_tokens: tokens of the vocabulary never split (default: those
            of GPT-2 and RoBERTa the vocabulary has).
        add_prefix_space: bool, tokenize a text as if a space preceded it.

    Example:

    A tiny checkpoint folder: the 256 byte tokens (each byte as a printable
    character, a space as `Ġ`), four merged tokens and their merge rules.

    >>> import json, os, tempfile
    >>> from tokenizers import pre_tokenizers
    >>> tokens = sorted(pre_tokenizers.ByteLevel.alphabet()) + ["he", "ll", "hell", "hello", "Ġw"]
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as file:
    ...     json.dump({token: index for index, token in enumerate(tokens)}, file)
    >>> with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as file:
    ...     _ = file.write("#version: 0.2\\nh e\\nl l\\nhe ll\\nhell o\\nĠ w\\n")
    >>> tokenizer = BytePairTokenizer.from_folder(folder)
    >>> tokenizer.tokenize("hello world")
    ['hello', 'Ġw', 'o', 'r', 'l', 'd']
    >>> tokenizer.detokenize(tokenizer.token_ids("hello world!"))
    'hello world!'
    """

    SPECIAL_TOKENS = ("<|endoftext|>", "<s>", "</s>", "<pad>", "<unk>", "<mask>")

    def __init__(self, vocabulary, merges, special_tokens=None, add_prefix_space=False):
        from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

        source = "The vocabulary"
        if isinstance(vocabulary, (str, os.PathLike)):
            source = os.fspath(vocabulary)
            vocabulary = read_json_vocabulary(source)
        vocabulary = check_vocabulary(vocabulary, source)
        merges_source = "merges"
        if isinstance(merges, (str, os.PathLike)):
            merges_source = os.fspath(merges)
            merges = read_merges(merges_source)
        merges = check_merges(
            merges, vocabulary, merges_source, "the vocabulary" if source[0] == "T" else source
        )
        if special_tokens is None:
            special_tokens = [t for t in self.SPECIAL_TOKENS if t in vocabulary]
        special_tokens = check_texts(special_tokens, "special_tokens")
        missing = [t for t in special_tokens if t not in vocabulary]
        if missing:
            raise ValueError(f"{source} lacks the special tokens {missing}.")
        add_prefix_space = check_bool("add_prefix_space", add_prefix_space)
        # Without a token for each byte, the engine would drop those bytes
        # from texts silently.
        lacking = [c for c in pre_tokenizers.ByteLevel.alphabet() if c not in vocabulary]
        if lacking:
            raise ValueError(
                f"{source} lacks {len(lacking)} of the 256 byte tokens of byte-level BPE "
                f"(e.g. {sorted(lacking)[:5]}): it is not a byte-level vocabulary."
            )
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
    def from_folder(cls, folder, revision=None, **kwargs):
        """The tokenizer of a checkpoint folder (or Hub model name, at `revision`): its
        `vocab.json` and `merges.txt`."""
        folder = checkpoint_folder(folder, revision=revision)
        return cls(os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt"), **kwargs)

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    def tokenize(self, text):
        """The byte-level pieces of `text`, e.g. `["Hello", "Ġworld"]`."""
        return self._engine.encode(check_text(text), add_special_tokens=False).tokens

    def token_ids(self, text):
        """The ids of `text`'s pieces (no special tokens added)."""
        return self._token_ids([check_text(text)])[0]

    def token_ids_batch(self, texts):
        """`token_ids` for a list of texts."""
        return self._token_ids(check_texts(texts))

    def _token_ids(self, texts):
        encodings = self._engine.encode_batch(texts, add_special_tokens=False)
        return [encoding.ids for encoding in encodings]

    def ids_to_tokens(self, ids):
        """The tokens of `ids` (an id, a list or an integer array, nested as
        given); ids that are not ints in `0..vocabulary_size - 1` are a
        `ValueError` naming them."""
        ids = check_ids(ids, self.vocabulary_size)
        if isinstance(ids, int):
            return self.inverse_vocabulary[ids]
        return map_rows(ids, lambda row: [self.inverse_vocabulary[i] for i in row])

    def detokenize(self, ids, skip_special_tokens=False):
        """The text of a sequence of ids (special tokens kept unless
        `skip_special_tokens`); a list of texts for a batch (nested lists or
        a 2-D array). Ids are checked as `ids_to_tokens` does."""
        skip_special_tokens = check_bool("skip_special_tokens", skip_special_tokens)
        return map_rows(
            check_ids(ids, self.vocabulary_size),
            lambda row: self._engine.decode(row, skip_special_tokens=skip_special_tokens),
        )

    def decode(self, ids, skip_special_tokens=False):
        """Hugging Face's name for `detokenize`: the text of a sequence of
        ids, exactly the text they came from (byte-level BPE loses nothing);
        a list of texts for a batch.

        Example:

        >>> from tokenizers import pre_tokenizers
        >>> tokens = sorted(pre_tokenizers.ByteLevel.alphabet()) + ["<|endoftext|>"]
        >>> tokenizer = BytePairTokenizer({t: i for i, t in enumerate(tokens)}, [])
        >>> ids = tokenizer.token_ids("Straße <|endoftext|>")
        >>> tokenizer.decode(ids), tokenizer.decode(ids, skip_special_tokens=True)
        ('Straße <|endoftext|>', 'Straße ')
        """
        return self.detokenize(ids, skip_special_tokens)


class RobertaTokenizer(BytePairTokenizer):
    """RoBERTa's tokenizer: byte-level BPE (see `BytePairTokenizer`) and
    RoBERTa's model inputs, `<s> first </s>` or `<s> first </s></s> second
    </s>`, cut longest-first to `max_length` and padded with `<pad>`.

    Args:
        vocabulary, merges, add_prefix_space: as `BytePairTokenizer`; the
            vocabulary must hold `<s>`, `</s>`, `<pad>`, `<unk>` and `<mask>`.

    Example:

    >>> from tokenizers import pre_tokenizers
    >>> specials = ["<s>", "</s>", "<pad>", "<unk>", "<mask>"]  # ids 0 to 4
    >>> byte_tokens = sorted(pre_tokenizers.ByteLevel.alphabet())  # ids 5 to 260
    >>> tokens = specials + byte_tokens + ["he", "ll", "hell", "hello"]  # "hello" is 264
    >>> vocabulary = {token: index for index, token in enumerate(tokens)}
    >>> tokenizer = RobertaTokenizer(vocabulary, ["h e", "l l", "he ll", "hell o"])
    >>> inputs = tokenizer.encode("hello", "hello", max_length=8)  # <s> a </s></s> b </s>
    >>> inputs["token_ids"].tolist()
    [0, 264, 1, 1, 264, 1, 2, 2]
    >>> inputs["padding_mask"].tolist()
    [1, 1, 1, 1, 1, 1, 0, 0]
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
        first, second = check_pair(first, second)
        batch = self.encode_batch([first], None if second is None else [second], max_length)
        return {name: values[0] for name, values in batch.items()}

    def encode_batch(self, firsts, seconds=None, max_length=None):
        """`encode` for lists of texts (and pairs); without `max_length` the
        batch is padded to its longest. Returns arrays `(B, T)`."""
        firsts, seconds = check_pairs(firsts, seconds)
        inputs = pack_inputs(
            self._token_ids(firsts),
            None if seconds is None else self._token_ids(seconds),
            max_length,
            self.pad_id,
            prefix=[self.start_id],
            middle=[self.end_id, self.end_id],
            suffix=[self.end_id],
        )
        return {"token_ids": inputs["token_ids"], "padding_mask": inputs["padding_mask"]}
