"""GPT2Tokenizer and GPT2CausalLM.generate_text (every Keras 3 lane; the
ids are checked against transformers' GPT2Tokenizer where it is installed).

The vocabulary is the tiny byte-level BPE of tests/conformance/fixtures/
tiny_roberta with GPT-2's `<|endoftext|>` added as its last id."""

import json
import os
import shutil

import numpy as np
import pytest

from kerastack.gpt import GPT2Backbone, GPT2CausalLM, GPT2Tokenizer
from tests.conformance import make_family_references as refs

END = "<|endoftext|>"
TEXTS = refs.TEXTS + [
    f"one text{END}another text",
    f"{END}",
    " leading space, trailing space ",
]


def has_transformers():
    try:
        import transformers  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_gpt2_tokenizer")
    with open(os.path.join(refs.ROBERTA_FOLDER, "vocab.json"), encoding="utf-8") as file:
        vocabulary = json.load(file)
    vocabulary[END] = len(vocabulary)
    with open(folder / "vocab.json", "w", encoding="utf-8") as file:
        json.dump(vocabulary, file, ensure_ascii=False)
    shutil.copy(os.path.join(refs.ROBERTA_FOLDER, "merges.txt"), folder / "merges.txt")
    return str(folder)


@pytest.fixture(scope="module")
def tokenizer(folder):
    return GPT2Tokenizer.from_folder(folder)


def test_end_token_and_round_trip(tokenizer):
    assert tokenizer.end_token_id == tokenizer.vocabulary_size - 1 == 400
    for text in TEXTS:
        ids = tokenizer.token_ids(text)
        assert tokenizer.detokenize(ids) == text
    # The end token written in a text is one token, never split.
    ids = tokenizer.token_ids(f"a{END}b")
    assert ids.count(tokenizer.end_token_id) == 1 and len(ids) == 3


@pytest.mark.skipif(
    not has_transformers(), reason="HF transformers (PyTorch) is installed in the torch lane only"
)
def test_ids_equal_transformers_gpt2_tokenizer(folder, tokenizer):
    import transformers

    theirs = transformers.GPT2Tokenizer.from_pretrained(folder)
    for text in TEXTS:
        assert tokenizer.token_ids(text) == theirs(text)["input_ids"], text
    assert theirs.eos_token_id == tokenizer.end_token_id


def test_encode_batch_pads_on_either_side(tokenizer):
    texts = ["Hello world!", "The quick brown fox jumps over the lazy dog."]
    ids = [tokenizer.token_ids(text) for text in texts]
    short, long = len(ids[0]), len(ids[1])
    right = tokenizer.encode_batch(texts)
    left = tokenizer.encode_batch(texts, padding_side="left")
    for inputs in (right, left):
        assert inputs["token_ids"].shape == (2, long) and inputs["token_ids"].dtype == np.int32
        assert inputs["padding_mask"].dtype == bool
        np.testing.assert_array_equal(inputs["padding_mask"].sum(axis=1), [short, long])
        np.testing.assert_array_equal(inputs["token_ids"][1], ids[1])
        padding = inputs["token_ids"][0][~inputs["padding_mask"][0]]
        assert (padding == tokenizer.end_token_id).all()
    np.testing.assert_array_equal(right["token_ids"][0, :short], ids[0])
    np.testing.assert_array_equal(left["token_ids"][0, -short:], ids[0])
    assert left["padding_mask"][0, -1] and not left["padding_mask"][0, 0]
    assert tokenizer.encode_batch(texts, max_length=long + 3)["token_ids"].shape == (2, long + 3)


def test_encode_batch_errors(tokenizer):
    with pytest.raises(ValueError, match=r"Texts \[1\] have no tokens"):
        tokenizer.encode_batch(["a", ""])
    with pytest.raises(ValueError, match=r"Texts \[0\] have more than max_length=2"):
        tokenizer.encode_batch(["The quick brown fox"], max_length=2)
    with pytest.raises(ValueError, match="padding_side"):
        tokenizer.encode_batch(["a"], padding_side="middle")
    with pytest.raises(ValueError, match="`texts` must be a list of str"):
        tokenizer.encode_batch("a")
    with pytest.raises(ValueError, match="lacks the special tokens"):
        GPT2Tokenizer({"a": 0, "b": 1}, [])


def test_generate_text_is_generate_then_detokenize(tokenizer):
    model = GPT2CausalLM(
        GPT2Backbone(
            vocabulary_size=tokenizer.vocabulary_size,
            num_layers=1,
            num_heads=2,
            hidden_dim=8,
            intermediate_dim=16,
            max_sequence_length=40,
            dropout=0.0,
        )
    )
    prompts = ["Hello world!", "The quick brown fox jumps"]
    inputs = tokenizer.encode_batch(prompts, padding_side="left")
    tokens = model.generate(
        inputs["token_ids"], 5, prompt_padding_mask=inputs["padding_mask"], end_token_id=None
    )
    texts = model.generate_text(tokenizer, prompts, 5, end_token_id=None)
    assert texts == [tokenizer.detokenize(row) for row in tokens]
    assert model.generate_text(tokenizer, prompts[1], 5, end_token_id=None) == texts[1]
    # A row stops before its end token: make row 0's first token the end.
    stopped = model.generate_text(tokenizer, prompts, 5, end_token_id=int(tokens[0, 0]))
    assert stopped[0] == ""
    small = GPT2CausalLM(
        GPT2Backbone(
            vocabulary_size=50,
            num_layers=1,
            num_heads=2,
            hidden_dim=8,
            intermediate_dim=16,
            max_sequence_length=40,
        )
    )
    with pytest.raises(ValueError, match="more than the model's vocabulary_size=50"):
        small.generate_text(tokenizer, prompts, 5)
