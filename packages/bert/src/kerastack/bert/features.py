"""Feature extraction: token and sentence embeddings of many texts from a
`BertBackbone`, batched by length so that short texts are not padded to
the longest one."""

import io
import itertools
import numbers
import os
import pathlib
import re
import weakref

import numpy as np

from kerastack.bert.bert_backbone import BertBackbone
from kerastack.core import check_int, keras, model_lock
from kerastack.tokenizers import BertTokenizer

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

    Returns:
        A generator of float32 arrays: `(tokens, num_layers * D)` per text
        without pooling (the text's own tokens, `[CLS]` and `[SEP]`
        included, no padding); `(width,)` with pooling.

    Raises:
        ValueError: at once for a bad argument (naming it; ints may be
            Python or NumPy ints, not bools or floats) or a text file that
            is not UTF-8 (naming the file and line); while iterating, for a
            text that is neither a str nor a pair of str, or longer than
            `max_length` without `truncate` (naming the text's index).
        FileNotFoundError: at once, for a `pathlib.Path` that is no file.

    Calls from several threads on one model take turns
    (`kerastack.core.model_lock`): each gets the results it would alone.

    Example:

    >>> tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    ...     "a", "text", "another"])
    >>> backbone = BertBackbone(vocabulary_size=8, num_layers=2, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> vectors = iter_embeddings(backbone, ["a text", "another"],
    ...                           tokenizer=tokenizer, pooling="mean")
    >>> next(vectors).shape
    (8,)
    >>> texts = ["a text", ("a", "text")]  # [CLS] a text [SEP]; [CLS] a [SEP] text [SEP]
    >>> [v.shape for v in iter_embeddings(backbone, texts, tokenizer=tokenizer, num_layers=2)]
    [(4, 16), (5, 16)]
    """
    model, tokenizer = _model_and_tokenizer(model, tokenizer)
    poolings = _poolings(pooling)
    num_layers = check_int("num_layers", num_layers)
    if num_layers > model.num_layers:
        raise ValueError(
            f"num_layers must be in 1..{model.num_layers}, received num_layers={num_layers}."
        )
    batch_size = check_int("batch_size", batch_size)
    max_length = check_int("max_length", max_length, allow_none=True)
    if max_length is None:
        max_length = model.max_sequence_length
    if max_length > model.max_sequence_length:
        raise ValueError(
            f"max_length={max_length} is longer than the model's "
            f"max_sequence_length={model.max_sequence_length}."
        )
    if not isinstance(truncate, (bool, np.bool_)):
        raise ValueError(f"`truncate` must be True or False, received truncate={truncate!r}.")
    if not (verbose == "auto" if isinstance(verbose, str) else _is_flag(verbose)):
        raise ValueError(f'`verbose` must be "auto", 0 or 1, received verbose={verbose!r}.')
    texts, total = _texts(texts)
    return _embeddings(
        model, tokenizer, texts, total, poolings, num_layers, batch_size, max_length,
        bool(truncate), verbose,
    )  # fmt: skip


def _is_flag(value):
    return isinstance(value, (numbers.Integral, np.bool_)) and value in (0, 1)


def _embeddings(
    model, tokenizer, texts, total, poolings, num_layers, batch_size, max_length, truncate, verbose
):
    """`iter_embeddings`' generator, its arguments checked."""
    extractor = _extractor(model, num_layers)
    show = verbose == 1 or (verbose == "auto" and (total is None or total >= 1000))
    progress = keras.utils.Progbar(total, unit_name="text") if show else None
    done = 0
    iterator = iter(texts)
    while chunk := list(itertools.islice(iterator, batch_size * CHUNK_BATCHES)):
        results = _embed_chunk(
            model, extractor, tokenizer, chunk, done, poolings, batch_size, max_length, truncate
        )
        yield from results
        done += len(chunk)
        if progress is not None:
            progress.update(done)
    if progress is not None and total is None:
        progress.update(done, finalize=True)


def extract_embeddings(model, texts, **kwargs):
    """`iter_embeddings` collected: a list of `(tokens, width)` arrays
    without pooling, or one `(len(texts), width)` array with pooling.

    Example:

    >>> tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    ...     "a", "text", "another"])
    >>> backbone = BertBackbone(vocabulary_size=8, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> texts = ["a text", "another text", "a"]
    >>> extract_embeddings(backbone, texts, tokenizer=tokenizer, pooling=["cls", "max"]).shape
    (3, 16)
    >>> [e.shape for e in extract_embeddings(backbone, texts, tokenizer=tokenizer)]
    [(4, 8), (4, 8), (3, 8)]
    """
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
        raise ValueError(
            f"model must be a BertBackbone or a checkpoint folder, received {type(model).__name__}."
        )
    if tokenizer is None:
        raise ValueError("Pass the tokenizer of the model (a BertTokenizer).")
    if not isinstance(tokenizer, BertTokenizer):
        raise ValueError(f"tokenizer must be a BertTokenizer, received {type(tokenizer).__name__}.")
    if tokenizer.vocabulary_size > model.vocabulary_size:
        raise ValueError(
            f"The tokenizer has {tokenizer.vocabulary_size} tokens but the model only "
            f"{model.vocabulary_size}: they do not belong together."
        )
    return model, tokenizer


def _poolings(pooling):
    if pooling is None:
        return None
    if not isinstance(pooling, (str, list, tuple)):
        raise ValueError(
            f"pooling must be None, one of {POOLINGS} or a list of them, received {pooling!r}."
        )
    poolings = [pooling] if isinstance(pooling, str) else list(pooling)
    unknown = [p for p in poolings if p not in POOLINGS]
    if unknown or not poolings:
        raise ValueError(f"Unknown pooling {unknown or pooling!r}: choose from {POOLINGS}.")
    return poolings


def _texts(texts):
    """`(iterable of texts, count or None)`."""
    if isinstance(texts, (str, bytes)):
        raise ValueError(
            "texts is one str: pass a list of texts, or a pathlib.Path to read a file."
        )
    if isinstance(texts, pathlib.Path):
        if not texts.is_file():
            raise FileNotFoundError(f"No text file at {texts}.")
        lines = _read_lines(texts)
        return lines, len(lines)
    if isinstance(texts, io.TextIOBase):
        return _stream_lines(texts), None
    try:
        iter(texts)
    except TypeError as error:
        raise ValueError(
            f"texts must be a list or iterable of texts, or a pathlib.Path; received "
            f"{type(texts).__name__}."
        ) from error
    try:
        return texts, len(texts)
    except TypeError:
        return texts, None


def _read_lines(path):
    """The lines of UTF-8 file `path` without their line breaks; a
    ValueError naming the file and line where it is not UTF-8."""
    try:
        with open(path, encoding="utf-8") as file:
            return [line.rstrip("\r\n") for line in file]
    except UnicodeDecodeError as error:
        data = path.read_bytes()
        try:
            data.decode("utf-8")
            start, reason = 0, str(error)
        except UnicodeDecodeError as located:
            start, reason = located.start, located.reason
        prefix = data[:start].decode("utf-8")
        line = len(re.findall(r"\r\n|\r|\n", prefix)) + 1
        raise ValueError(
            f"{path}, line {line}: not UTF-8 text (byte {start} of the file: {reason}). "
            "Save the file as UTF-8."
        ) from error


def _stream_lines(file):
    """The lines of an open text file without their line breaks; a
    ValueError naming the file and the last line read where it cannot be
    decoded."""
    number = 0
    try:
        for line in file:
            number += 1
            yield line.rstrip("\r\n")
    except UnicodeDecodeError as error:
        name = getattr(file, "name", "the text stream")
        raise ValueError(
            f"{name}: not {getattr(file, 'encoding', None) or 'decodable'} text after line "
            f"{number} ({error.reason}); open it with its encoding."
        ) from error


# {backbone: {num_layers: extractor}}: one extractor per backbone and depth,
# so that calls after the first reuse its compiled predict function.
_extractors = weakref.WeakKeyDictionary()


def _extractor(model, num_layers):
    """A model from the backbone's inputs to the token embeddings and the
    pooled output; compiled by Keras per input shape (`predict_on_batch`)."""
    with model_lock(model):
        extractors = _extractors.setdefault(model, {})
        if num_layers not in extractors:
            tokens = model.output["sequence_output"]
            if num_layers > 1:
                tokens = model.last_layers_model(num_layers).output
            outputs = [tokens, model.output["pooled_output"]]
            extractors[num_layers] = keras.Model(model.input, outputs)
        return extractors[num_layers]


def _embed_chunk(
    model, extractor, tokenizer, chunk, offset, poolings, batch_size, max_length, truncate
):
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
        with model_lock(model):  # the extractor uses the model's weights
            outputs = extractor.predict_on_batch(batch)
        tokens, pooled = (np.asarray(x, dtype="float32") for x in outputs)
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
    raise ValueError(f"Text {index} is neither a str nor a pair of str: {text!r}.")


def _pool(pooling, tokens, pooled):
    if pooling == "cls":
        return tokens[0]
    if pooling == "pooled":
        return pooled
    if pooling == "mean":
        return tokens.mean(axis=0)
    return tokens.max(axis=0)
