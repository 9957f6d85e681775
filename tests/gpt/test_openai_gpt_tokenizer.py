"""OpenAIGPTTokenizer and OpenAIGPTCausalLM.generate_text (every Keras 3 lane;
the ids are checked against transformers' OpenAIGPTTokenizer in
tests/conformance/test_openai_gpt_conformance.py).

The vocabulary is the tiny one of tests/conformance/fixtures/tiny_openai_gpt
(300 tokens, `<unk>` first, `</w>` word ends)."""

import functools
import json

import numpy as np
import pytest

from kerastack.core import keras
from kerastack.gpt import OpenAIGPTBackbone, OpenAIGPTCausalLM, OpenAIGPTTokenizer
from tests.conformance import make_openai_gpt_references as refs


@functools.cache
def tokenizer():
    return OpenAIGPTTokenizer.from_folder(refs.FOLDER)


def vocabulary():
    with open(f"{refs.FOLDER}/vocab.json", encoding="utf-8") as file:
        return json.load(file)


def test_words_end_with_the_mark_and_text_is_lower_cased():
    tokens = tokenizer().tokenize("The LAZY dog. She said")
    assert tokens == tokenizer().tokenize("the lazy dog. she said")
    # Every word's last token carries </w>; the others do not.
    words = ["the", "lazy", "dog", ".", "she", "said"]
    ends = [index for index, token in enumerate(tokens) if token.endswith("</w>")]
    assert len(ends) == len(words) and ends[-1] == len(tokens) - 1
    assert "".join(tokens).replace("</w>", " ").split() == words
    ids = tokenizer().token_ids("The LAZY dog. She said")
    assert tokenizer().ids_to_tokens(ids) == tokens
    assert tokenizer().detokenize(ids) == "the lazy dog . she said"
    # "!" is not in this vocabulary: an <unk>, which has no </w>.
    assert tokenizer().tokenize("dog!") == ["do", "g</w>", "<unk>"]


def test_unknown_characters_and_the_unk_token():
    unk = tokenizer().unk_id
    assert unk == 0 and tokenizer().padding_id == 0 and tokenizer().end_token_id is None
    # A character missing from the vocabulary is <unk>, one per character.
    assert tokenizer().token_ids("東京") == [unk, unk]
    # <unk> written in a text is one token, never split or lower-cased away.
    assert tokenizer().token_ids("<unk>") == [unk]


def test_encode_batch():
    batch = tokenizer().encode_batch(["the fox", "the quick brown fox"], padding_side="left")
    ids, mask = batch["token_ids"], batch["padding_mask"]
    short = tokenizer().token_ids("the fox")
    assert ids.shape == mask.shape and mask.dtype == bool
    assert list(ids[0, mask[0]]) == short and mask[0, : ids.shape[1] - len(short)].sum() == 0
    right = tokenizer().encode_batch(["the fox"], max_length=6)
    assert list(right["token_ids"][0]) == short + [0] * (6 - len(short))
    with pytest.raises(ValueError, match="have more than max_length=1 tokens"):
        tokenizer().encode_batch(["the fox"], max_length=1)
    with pytest.raises(ValueError, match="have no tokens"):
        tokenizer().encode_batch(["fox", "  "])
    with pytest.raises(ValueError, match="list of str, received one str"):
        tokenizer().encode_batch("fox")
    with pytest.raises(ValueError, match='padding_side must be "left" or "right"'):
        tokenizer().encode_batch(["fox"], padding_side="middle")


def test_constructor_errors():
    tokens = vocabulary()
    with pytest.raises(ValueError, match=r"lacks the special tokens \['<end>'\]"):
        OpenAIGPTTokenizer(tokens, [], end_token="<end>")
    with pytest.raises(ValueError, match="lacks"):
        OpenAIGPTTokenizer({"a": 0, "b": 1, "<unk>": 2}, ["a b"])
    without_unk = {token: index for index, token in enumerate(t for t in tokens if t != "<unk>")}
    with pytest.raises(ValueError, match=r"lacks the special tokens \['<unk>'\]"):
        OpenAIGPTTokenizer(without_unk, [])
    with pytest.raises(ValueError, match="Unknown token ids"):
        tokenizer().detokenize([300])


def test_an_end_token_stops_generate_text():
    tokens = vocabulary()
    tokens["<end>"] = len(tokens)
    ending = OpenAIGPTTokenizer(tokens, f"{refs.FOLDER}/merges.txt", end_token="<end>")
    assert ending.end_token_id == ending.padding_id == 300
    keras.utils.set_random_seed(0)
    model = OpenAIGPTCausalLM(
        OpenAIGPTBackbone(
            vocabulary_size=301,
            num_layers=1,
            num_heads=3,
            hidden_dim=12,
            intermediate_dim=48,
            max_sequence_length=16,
        )
    )
    prompts = ["the quick fox", "the"]
    texts = model.generate_text(ending, prompts, max_new_tokens=4)
    ids = ending.encode_batch(prompts, padding_side="left")
    tokens_out = model.generate(
        ids["token_ids"],
        4,
        prompt_padding_mask=ids["padding_mask"],
        end_token_id=300,
        padding_id=300,
    )
    for text, row in zip(texts, tokens_out, strict=True):
        row = list(row)
        row = row[: row.index(300)] if 300 in row else row
        assert text == ending.detokenize(row)
    # Without an end token nothing stops: four tokens each.
    plain = model.generate_text(tokenizer(), "the quick fox", max_new_tokens=4)
    assert isinstance(plain, str)
    tokens_plain = model.generate(np.array([tokenizer().token_ids("the quick fox")]), 4)
    assert plain == tokenizer().detokenize(list(tokens_plain[0]))
    with pytest.raises(ValueError, match="more than the model's vocabulary_size=20"):
        OpenAIGPTCausalLM(
            OpenAIGPTBackbone(
                vocabulary_size=20, num_layers=1, num_heads=3, hidden_dim=12, intermediate_dim=48
            )
        ).generate_text(ending, "the", max_new_tokens=1)
