"""OpenAI GPT's (GPT-1's) tokenizer: lower-cased BPE with `</w>` word ends,
as Hugging Face's `OpenAIGPTTokenizer` runs it, on the HF `tokenizers`
engine (no Keras)."""

import os

import numpy as np

from kerastack.tokenizers.bert_tokenizer import (
    check_bool,
    check_ids,
    check_int,
    check_text,
    check_texts,
    check_vocabulary,
    map_rows,
)
from kerastack.tokenizers.byte_pair_tokenizer import (
    check_merges,
    read_json_vocabulary,
    read_merges,
)
from kerastack.tokenizers.files import checkpoint_folder

__all__ = ["OpenAIGPTTokenizer"]

END_OF_WORD = "</w>"


class OpenAIGPTTokenizer:
    """OpenAI GPT's BPE text encoder, as Hugging Face's `OpenAIGPTTokenizer`
    (transformers 5) tokenizes: the reference its ids are checked against.

    A text is normalized as BERT's uncased tokenizer does (control
    characters removed, whitespace made spaces, a space around each CJK
    ideograph, lower-cased, accents stripped), split on whitespace and
    around each punctuation character, and each word's characters are
    merged by the vocabulary's merge rules, highest priority first; the
    last character of a word carries the end-of-word mark `</w>` (so `"the"`
    is `["the</w>"]` and `"there"` may be `["there</w>"]` or `["the",
    "re</w>"]`). A character (with or without the mark) the vocabulary lacks
    is `unk_token`, one per character. `unk_token` written in a text is kept
    whole.

    OpenAI's own encoder first ran `ftfy` and spaCy's English tokenizer;
    transformers 5 no longer does (it uses the BERT splitting above for
    every text), and neither does this class: texts that spaCy splits
    otherwise (contractions such as "don't") get HF's ids, not OpenAI's.

    `detokenize` joins the tokens, each `</w>` becoming a space (the last
    dropped): the lower-cased, re-spaced text, not the original.

    Args:
        vocabulary: path of a `vocab.json`, or a `{token: id}` dict (ids
            `0..n-1`, each once) holding `unk_token`.
        merges: path of a `merges.txt`, or a list of `(left, right)` pairs
            (or `"left right"` strings), highest priority first.
        unk_token: str, the unknown token (`"<unk>"`).
        end_token: str or None, a token of the vocabulary that ends a text
            (OpenAI GPT has none; fine-tuned vocabularies may add one).

    Attributes:
        unk_id: int, the id of `unk_token`.
        end_token_id: int, or None without an end token.
        padding_id: int, the id `encode_batch` pads with: `end_token_id`,
            or `unk_id` (padding is told by the mask, never by its id).

    Example:

    >>> tokens = ["<unk>", "h", "e", "l", "o", "w", "r", "d", "o</w>", "d</w>", "!</w>",
    ...           "he", "ll", "hell", "hello</w>", "wo", "wor", "worl", "world</w>"]
    >>> vocabulary = {token: index for index, token in enumerate(tokens)}
    >>> merges = ["h e", "l l", "he ll", "hell o</w>", "w o", "wo r", "wor l", "worl d</w>"]
    >>> tokenizer = OpenAIGPTTokenizer(vocabulary, merges)
    >>> tokenizer.tokenize("Hello World!")
    ['hello</w>', 'world</w>', '!</w>']
    >>> tokenizer.tokenize("hi")  # "i</w>" is not in the vocabulary
    ['h', '<unk>']
    >>> tokenizer.detokenize(tokenizer.token_ids("HELLO   world!"))
    'hello world !'
    >>> batch = tokenizer.encode_batch(["hello", "hello world"], padding_side="left")
    >>> batch["token_ids"].tolist(), batch["padding_mask"].tolist()
    ([[0, 14], [14, 18]], [[False, True], [True, True]])
    """

    def __init__(self, vocabulary, merges, unk_token="<unk>", end_token=None):
        from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers

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
        unk_token = check_text(unk_token, "unk_token")
        if end_token is not None:
            end_token = check_text(end_token, "end_token")
        missing = [t for t in (unk_token, end_token) if t is not None and t not in vocabulary]
        if missing:
            raise ValueError(f"{source} lacks the special tokens {missing}.")
        self.vocabulary = vocabulary
        self.inverse_vocabulary = {index: token for token, index in vocabulary.items()}
        self.merges = merges
        self.unk_token, self.end_token = unk_token, end_token
        self.unk_id = vocabulary[unk_token]
        self.end_token_id = None if end_token is None else vocabulary[end_token]
        self.padding_id = self.unk_id if end_token is None else self.end_token_id
        self.special_tokens = [t for t in (unk_token, end_token) if t is not None]
        engine = Tokenizer(
            models.BPE(
                vocabulary,
                merges,
                unk_token=unk_token,
                end_of_word_suffix=END_OF_WORD,
                continuing_subword_prefix="",
                fuse_unk=False,
                dropout=None,
            )
        )
        engine.normalizer = normalizers.BertNormalizer(lowercase=True)
        engine.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        engine.decoder = decoders.BPEDecoder(suffix=END_OF_WORD)
        engine.add_special_tokens(
            [AddedToken(t, special=True, normalized=False) for t in self.special_tokens]
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
        """The BPE tokens of `text`, e.g. `["hello</w>", "world</w>"]`."""
        return self._engine.encode(check_text(text), add_special_tokens=False).tokens

    def token_ids(self, text):
        """The ids of `text`'s tokens (none added)."""
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
        """The text of a sequence of ids, each `</w>` a space (special tokens
        kept unless `skip_special_tokens`); a list of texts for a batch."""
        skip_special_tokens = check_bool("skip_special_tokens", skip_special_tokens)
        return map_rows(
            check_ids(ids, self.vocabulary_size),
            lambda row: self._engine.decode(row, skip_special_tokens=skip_special_tokens),
        )

    def decode(self, ids, skip_special_tokens=False):
        """Hugging Face's name for `detokenize`: the lower-cased, re-spaced
        text (each word and punctuation mark followed by one space, the
        last dropped); a list of texts for a batch.

        Example:

        >>> tokens = ["<unk>", "h", "i</w>", "!</w>", "hi</w>"]
        >>> tokenizer = OpenAIGPTTokenizer({t: i for i, t in enumerate(tokens)}, ["h i</w>"])
        >>> tokenizer.decode(tokenizer.token_ids("Hi!  HI"))
        'hi ! hi'
        """
        return self.detokenize(ids, skip_special_tokens)

    def encode_batch(self, texts, max_length=None, padding_side="right"):
        """Token ids of `texts` padded to one length, with their mask.

        Args:
            texts: list of str, each with at least one token.
            max_length: int or None, the length to pad to (the longest text's
                by default). A longer text is an error, never cut.
            padding_side: `"right"` (training) or `"left"` (prompts for
                `OpenAIGPTCausalLM.generate`, which continues each row's
                last token).

        Returns:
            A dict of NumPy arrays `(B, T)`: `token_ids` (int32, padded with
            `padding_id`) and `padding_mask` (bool, True on real tokens).
        """
        if isinstance(texts, str):
            raise ValueError(
                "`texts` must be a list of str, received one str; token_ids takes one."
            )
        max_length = check_int("max_length", max_length, allow_none=True)
        if not isinstance(padding_side, str) or padding_side not in ("left", "right"):
            raise ValueError(f'padding_side must be "left" or "right", received {padding_side!r}.')
        ids = self.token_ids_batch(texts)
        empty = [index for index, row in enumerate(ids) if not row]
        if empty:
            raise ValueError(f"Texts {empty} have no tokens.")
        longest = max((len(row) for row in ids), default=0)
        length = longest if max_length is None else max_length
        too_long = [index for index, row in enumerate(ids) if len(row) > length]
        if too_long:
            raise ValueError(
                f"Texts {too_long} have more than max_length={length} tokens "
                f"(the longest has {longest})."
            )
        token_ids = np.full((len(ids), length), self.padding_id, "int32")
        padding_mask = np.zeros((len(ids), length), bool)
        for index, row in enumerate(ids):
            place = slice(length - len(row), length) if padding_side == "left" else slice(len(row))
            token_ids[index, place] = row
            padding_mask[index, place] = True
        return {"token_ids": token_ids, "padding_mask": padding_mask}
