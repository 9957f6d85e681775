"""extract_embeddings / iter_embeddings (every Keras 3 lane): each text's
result equals the backbone run on that text alone, whatever the batching,
bucketing and input form."""

import io
import os
import pathlib

import numpy as np
import pytest

from kerastack.bert import BertBackbone, BertTokenizer, extract_embeddings, iter_embeddings
from tests.conformance import make_references as refs

GOOGLE = os.path.join(refs.FIXTURES, "tiny_google")
WORDS = "all work and no play makes jack a dull boy from the day forth my arm changed".split()


@pytest.fixture(scope="module")
def model():
    return BertBackbone.from_pretrained(GOOGLE), BertTokenizer(os.path.join(GOOGLE, "vocab.txt"))


def texts(count=23, seed=0):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 40)))) for _ in range(count)]


def alone(backbone, tokenizer, text, layers=1):
    """The backbone on one text, unpadded."""
    first, second = (text, None) if isinstance(text, str) else text
    encoded = tokenizer.encode_batch([first], None if second is None else [second])
    runner = backbone if layers == 1 else backbone.last_layers_model(layers)
    outputs = runner.predict(encoded, verbose=0)
    if layers == 1:
        return outputs["sequence_output"][0], outputs["pooled_output"][0]
    return outputs[0], None


def test_token_embeddings_equal_each_text_alone(model):
    backbone, tokenizer = model
    items = texts()
    results = extract_embeddings(backbone, items, tokenizer=tokenizer, batch_size=4)
    assert len(results) == len(items)
    for text, result in zip(items, results, strict=True):
        expected, _ = alone(backbone, tokenizer, text)
        assert result.shape == expected.shape == (len(tokenizer.tokenize(text)) + 2, 32)
        np.testing.assert_allclose(result, expected, atol=1e-5)


def test_poolings_and_layers(model):
    backbone, tokenizer = model
    items = texts(9, seed=1) + [("all work", "and no play")]
    pooled = extract_embeddings(
        backbone, items, tokenizer=tokenizer, pooling=["cls", "pooled", "mean", "max"],
        batch_size=3,
    )  # fmt: skip
    assert pooled.shape == (10, 4 * 32) and pooled.dtype == np.float32
    for row, text in enumerate(items):
        tokens, pooler = alone(backbone, tokenizer, text)
        expected = np.concatenate([tokens[0], pooler, tokens.mean(0), tokens.max(0)])
        np.testing.assert_allclose(pooled[row], expected, atol=1e-5)
    two = extract_embeddings(backbone, items[:3], tokenizer=tokenizer, num_layers=2)
    for text, result in zip(items[:3], two, strict=True):
        np.testing.assert_allclose(result, alone(backbone, tokenizer, text, 2)[0], atol=1e-5)
    mean = extract_embeddings(backbone, items[:3], tokenizer=tokenizer, pooling="mean")
    np.testing.assert_allclose(mean, pooled[:3, 64:96], atol=1e-6)


def test_lists_generators_and_files(model, tmp_path):
    backbone, tokenizer = model
    items = texts(7, seed=2)
    expected = extract_embeddings(backbone, items, tokenizer=tokenizer, pooling="mean")
    generated = extract_embeddings(
        backbone, (t for t in items), tokenizer=tokenizer, pooling="mean", verbose=0
    )
    np.testing.assert_allclose(generated, expected, atol=1e-6)
    path = tmp_path / "texts.txt"
    path.write_text("".join(t + "\n" for t in items), encoding="utf-8")
    from_path = extract_embeddings(backbone, path, tokenizer=tokenizer, pooling="mean")
    np.testing.assert_allclose(from_path, expected, atol=1e-6)
    with open(path, encoding="utf-8") as file:
        from_file = extract_embeddings(
            backbone, file, tokenizer=tokenizer, pooling="mean", verbose=0
        )
    np.testing.assert_allclose(from_file, expected, atol=1e-6)
    # A checkpoint folder brings its tokenizer.
    from_folder = extract_embeddings(GOOGLE, items, pooling="mean")
    np.testing.assert_allclose(from_folder, expected, atol=1e-5)
    streamed = iter_embeddings(backbone, iter(items), tokenizer=tokenizer, verbose=0)
    assert next(streamed).shape[0] == len(tokenizer.tokenize(items[0])) + 2


def test_long_texts_are_an_error_unless_truncated(model):
    backbone, tokenizer = model
    long = " ".join(["play"] * 70)  # 72 tokens; the model has 64 positions
    with pytest.raises(ValueError, match="Text 1 has 72 tokens, more than max_length=64"):
        extract_embeddings(backbone, ["all work", long], tokenizer=tokenizer)
    cut = extract_embeddings(backbone, ["all work", long], tokenizer=tokenizer, truncate=True)
    assert cut[1].shape == (64, 32)
    expected, _ = alone(backbone, tokenizer, " ".join(["play"] * 62))
    np.testing.assert_allclose(cut[1][:-1], expected[:-1], atol=1e-5)  # [SEP] moved


def test_errors_and_progress(model, capsys):
    backbone, tokenizer = model
    with pytest.raises(ValueError, match="texts is one str"):
        extract_embeddings(backbone, "all work", tokenizer=tokenizer)
    with pytest.raises(ValueError, match="Unknown pooling"):
        extract_embeddings(backbone, ["all"], tokenizer=tokenizer, pooling="sum")
    with pytest.raises(ValueError, match="tokenizer"):
        extract_embeddings(backbone, ["all"])
    with pytest.raises(ValueError, match="num_layers must be in 1..2"):
        extract_embeddings(backbone, ["all"], tokenizer=tokenizer, num_layers=3)
    with pytest.raises(ValueError, match="Text 1 is neither"):
        extract_embeddings(backbone, ["all", 3], tokenizer=tokenizer)
    with pytest.raises(FileNotFoundError):
        extract_embeddings(backbone, pathlib.Path("/nonexistent.txt"), tokenizer=tokenizer)
    with pytest.raises(ValueError, match="max_length=65 is longer"):
        extract_embeddings(backbone, ["all"], tokenizer=tokenizer, max_length=65)
    capsys.readouterr()
    extract_embeddings(backbone, ["all"] * 3, tokenizer=tokenizer)  # "auto": few texts, no bar
    assert capsys.readouterr().out == ""
    extract_embeddings(backbone, ["all"] * 3, tokenizer=tokenizer, verbose=1)
    assert "3/3" in capsys.readouterr().out
    extract_embeddings(backbone, io.StringIO("all\nwork\n"), tokenizer=tokenizer)
    assert "2/Unknown" in capsys.readouterr().out  # a stream of unknown length
