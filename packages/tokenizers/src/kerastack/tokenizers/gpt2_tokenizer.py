"""GPT-2's tokenizer: byte-level BPE with `<|endoftext|>`, and prompts as
`GPT2CausalLM.generate` takes them."""

import numpy as np

from kerastack.tokenizers.bert_tokenizer import check_int
from kerastack.tokenizers.byte_pair_tokenizer import BytePairTokenizer


class GPT2Tokenizer(BytePairTokenizer):
    """GPT-2's byte-level BPE (see `BytePairTokenizer`), with
    GPT-2's one special token, `<|endoftext|>`, which ends a text, starts an
    unconditional sample and pads (GPT-2 has no padding token: padding is
    told by the mask, never by its id).

    No token is added to a text (HF's `GPT2Tokenizer` adds none either).

    Args:
        vocabulary: path of a `vocab.json`, or a `{token: id}` dict holding
            `end_token`.
        merges: path of a `merges.txt`, or a list of merge pairs.
        end_token: str, the end-of-text token (`"<|endoftext|>"`).
        add_prefix_space: bool, tokenize a text as if a space preceded it.

    Example:

    >>> from tokenizers import pre_tokenizers
    >>> byte_tokens = sorted(pre_tokenizers.ByteLevel.alphabet())  # ids 0 to 255
    >>> tokens = byte_tokens + ["he", "ll", "hell", "hello", "<|endoftext|>"]  # 259, 260
    >>> vocabulary = {token: index for index, token in enumerate(tokens)}
    >>> tokenizer = GPT2Tokenizer(vocabulary, ["h e", "l l", "he ll", "hell o"])
    >>> prompts = tokenizer.encode_batch(["hello", "hi"], padding_side="left")
    >>> prompts["token_ids"].tolist()  # padded with <|endoftext|>
    [[260, 259], [71, 72]]
    >>> prompts["padding_mask"].tolist()
    [[False, True], [True, True]]
    """

    def __init__(self, vocabulary, merges, end_token="<|endoftext|>", add_prefix_space=False):
        if not isinstance(end_token, str):
            raise ValueError(f"end_token must be a str, received {end_token!r}.")
        super().__init__(
            vocabulary, merges, special_tokens=[end_token], add_prefix_space=add_prefix_space
        )
        self.end_token = end_token
        self.end_token_id = self.vocabulary[end_token]

    def encode_batch(self, texts, max_length=None, padding_side="right"):
        """Token ids of `texts` padded to one length, with their mask.

        Args:
            texts: list of str, each with at least one token.
            max_length: int or None, the length to pad to (the longest text's
                by default). A longer text is an error, never cut.
            padding_side: `"right"` (training) or `"left"` (prompts for
                `GPT2CausalLM.generate`, which continues each row's last
                token).

        Returns:
            A dict of NumPy arrays `(B, T)`: `token_ids` (int32, padded with
            `end_token_id`) and `padding_mask` (bool, True on real tokens).
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
            raise ValueError(
                f"Texts {empty} have no tokens; start an unconditional sample with "
                f"{self.end_token!r}."
            )
        longest = max((len(row) for row in ids), default=0)
        length = longest if max_length is None else max_length
        too_long = [index for index, row in enumerate(ids) if len(row) > length]
        if too_long:
            raise ValueError(
                f"Texts {too_long} have more than max_length={length} tokens "
                f"(the longest has {longest})."
            )
        token_ids = np.full((len(ids), length), self.end_token_id, "int32")
        padding_mask = np.zeros((len(ids), length), bool)
        for index, row in enumerate(ids):
            place = slice(length - len(row), length) if padding_side == "left" else slice(len(row))
            token_ids[index, place] = row
            padding_mask[index, place] = True
        return {"token_ids": token_ids, "padding_mask": padding_mask}
