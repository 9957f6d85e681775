"""Feature extraction: token and sentence embeddings of many texts from a
`BertBackbone`, batched by length so that short texts are not padded to
the longest one."""

import io
import itertools
import os
import pathlib

import numpy as np

from kerastack.bert.bert_backbone import BertBackbone
from kerastack.bert.tokenizer import BertTokenizer
from kerastack.core import keras

POOLINGS = ("cls", "pooled", "mean", "max")
# Batches are padded to a multiple of this, so that a compiled backend
# (XLA, jit) meets a handful of shapes instead of one per length.
LENGTH_STEP = 16
# Texts read, sorted by length and batched at a time: `CHUNK_BATCHES` batches.
CHUNK_BATCHES = 16


def iter_embeddings(
    model,
    texts,
    tokenizer=None,
    pooling=None,
    num_layers=1,
    batch_size=32,
    max_length=None,
    truncate=False,
    verbose="auto",
):
    """Embeddings of `texts`, one per text, in order, as they are computed.

    Args:
        model: a `BertBackbone`, or the folder of a checkpoint (see
            `BertBackbone.from_pretrained`) whose `vocab.txt` gives the
            tokenizer.
        texts: a list or any iterable (a generator) of texts, each a str or
            a pair `(first, second)`; a `pathlib.Path` or an open text file
            is read one text per line (the line break removed).
        tokenizer: a `BertTokenizer`; required when `model` is a model.
        pooling: None for token embeddings; else one of `"cls"` (the
            `[CLS]` token's vector), `"pooled"` (the backbone's pooler,
            `tanh(W x_[CLS] + b)`), `"mean"` and `"max"` (over the real
            tokens, `[CLS]` and `[SEP]` included), or a list of them,
            concatenated in order.
        num_layers: int, the token embeddings are the concatenation of the
            last `num_layers` blocks' outputs (earliest first, as
            keras-bert's `output_layer_num`); `"pooled"` is always the
            pooler's `D` values.
        batch_size: int, texts per model call.
        max_length: int, the longest encoded text allowed; defaults to the
            model's `max_sequence_length`.
        truncate: bool, cut longer texts (pairs longest-first) to
            `max_length`; by default a longer text is an error.
        verbose: `"auto"` (a progress bar from 1,000 texts, or for an
            iterable of unknown length), 0 or 1.

    Yields:
        float32 arrays: `(tokens, num_layers * D)` per text without pooling
        (the text's own tokens, `[CLS]` and `[SEP]` included, no padding);
        `(width,)` with pooling.
    """
    model, tokenizer = _model_and_tokenizer(model, tokenizer)
    poolings = _poolings(pooling)
    if not 1 <= num_layers <= model.num_layers:
        raise ValueError(
            f"num_layers must be in 1..{model.num_layers}, received num_layers={num_layers}."
        )
    if max_length is None:
        max_length = model.max_sequence_length
    if max_length > model.max_sequence_length:
        raise ValueError(
            f"max_length={max_length} is longer than the model's "
            f"max_sequence_length={model.max_sequence_length}."
        )
    texts, total = _texts(texts)
    extractor = _extractor(model, num_layers)
    show = verbose == 1 or (verbose == "auto" and (total is None or total >= 1000))
    progress = keras.utils.Progbar(total, unit_name="text") if show else None
    done = 0
    iterator = iter(texts)
    while chunk := list(itertools.islice(iterator, batch_size * CHUNK_BATCHES)):
        results = _embed_chunk(
            extractor, tokenizer, chunk, done, poolings, batch_size, max_length, truncate
        )
        yield from results
        done += len(chunk)
        if progress is not None:
            progress.update(done)
    if progress is not None and total is None:
        progress.update(done, finalize=True)


def extract_embeddings(model, texts, **kwargs):
    """`iter_embeddings` collected: a list of `(tokens, width)` arrays
    without pooling, or one `(len(texts), width)` array with pooling."""
    embeddings = list(iter_embeddings(model, texts, **kwargs))
    if kwargs.get("pooling") is None:
        return embeddings
    if not embeddings:
        raise ValueError("No texts to embed.")
    return np.stack(embeddings)


def _model_and_tokenizer(model, tokenizer):
    if isinstance(model, (str, os.PathLike)):
        folder = os.fspath(model)
        if tokenizer is None:
            tokenizer = BertTokenizer.from_folder(folder)
        model = BertBackbone.from_pretrained(folder)
    if not isinstance(model, BertBackbone):
        raise TypeError(
            f"model must be a BertBackbone or a checkpoint folder, received {type(model).__name__}."
        )
    if tokenizer is None:
        raise ValueError("Pass the tokenizer of the model (a BertTokenizer).")
    if tokenizer.vocabulary_size > model.vocabulary_size:
        raise ValueError(
            f"The tokenizer has {tokenizer.vocabulary_size} tokens but the model only "
            f"{model.vocabulary_size}: they do not belong together."
        )
    return model, tokenizer


def _poolings(pooling):
    if pooling is None:
        return None
    poolings = [pooling] if isinstance(pooling, str) else list(pooling)
    unknown = [p for p in poolings if p not in POOLINGS]
    if unknown or not poolings:
        raise ValueError(f"Unknown pooling {unknown or pooling!r}: choose from {POOLINGS}.")
    return poolings


def _texts(texts):
    """`(iterable of texts, count or None)`."""
    if isinstance(texts, str):
        raise TypeError("texts is one str: pass a list of texts, or a pathlib.Path to read a file.")
    if isinstance(texts, pathlib.Path):
        if not texts.is_file():
            raise FileNotFoundError(f"No text file at {texts}.")
        with open(texts, encoding="utf-8") as file:
            lines = [line.rstrip("\r\n") for line in file]
        return lines, len(lines)
    if isinstance(texts, io.TextIOBase):
        return (line.rstrip("\r\n") for line in texts), None
    try:
        return texts, len(texts)
    except TypeError:
        return texts, None


def _extractor(model, num_layers):
    """A model from the backbone's inputs to the token embeddings and the
    pooled output; compiled by Keras per input shape (`predict_on_batch`)."""
    tokens = model.output["sequence_output"]
    if num_layers > 1:
        tokens = model.last_layers_model(num_layers).output
    return keras.Model(model.input, [tokens, model.output["pooled_output"]])


def _embed_chunk(extractor, tokenizer, chunk, offset, poolings, batch_size, max_length, truncate):
    """The embeddings of one chunk of texts, in its order. The texts are
    sorted by length, batched, and each batch padded to its longest text
    rounded up to `LENGTH_STEP`."""
    encoded = []
    for index, text in enumerate(chunk):
        first, second = _split(text, offset + index)
        row = tokenizer.encode(first, second, max_length=max_length if truncate else None)
        length = int(row["padding_mask"].sum())
        if length > max_length:
            raise ValueError(
                f"Text {offset + index} has {length} tokens, more than max_length="
                f"{max_length}; pass truncate=True to cut it."
            )
        encoded.append({name: values[:length] for name, values in row.items()})
    order = sorted(range(len(chunk)), key=lambda i: len(encoded[i]["token_ids"]))
    results = [None] * len(chunk)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        longest = max(len(encoded[i]["token_ids"]) for i in rows)
        width = min(-(-longest // LENGTH_STEP) * LENGTH_STEP, max_length)
        batch = {
            name: np.zeros((len(rows), width), dtype="int32")
            for name in ("token_ids", "segment_ids", "padding_mask")
        }
        batch["token_ids"][:] = tokenizer.pad_id
        for slot, i in enumerate(rows):
            for name, values in encoded[i].items():
                batch[name][slot, : len(values)] = values
        tokens, pooled = (np.asarray(x, dtype="float32") for x in extractor.predict_on_batch(batch))
        for slot, i in enumerate(rows):
            length = len(encoded[i]["token_ids"])
            own = tokens[slot, :length]
            if poolings is None:
                results[i] = own
            else:
                results[i] = np.concatenate([_pool(p, own, pooled[slot]) for p in poolings])
    return results


def _split(text, index):
    if isinstance(text, str):
        return text, None
    if isinstance(text, (tuple, list)) and len(text) == 2 and all(isinstance(t, str) for t in text):
        return text[0], text[1]
    raise TypeError(f"Text {index} is neither a str nor a pair of str: {text!r}.")


def _pool(pooling, tokens, pooled):
    if pooling == "cls":
        return tokens[0]
    if pooling == "pooled":
        return pooled
    if pooling == "mean":
        return tokens.mean(axis=0)
    return tokens.max(axis=0)
