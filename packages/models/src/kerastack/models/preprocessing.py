"""Raw text in: `TextClassifierPreprocessor`, a Keras layer holding a
tokenizer of `kerastack.tokenizers` and a sequence length, which turns texts
(or pairs of texts) into a model's input arrays, and saves with the model
(its tokenizer's files as the layer's assets). A task model given one
(`TaskModel(preprocessor=...)`) takes raw strings in `fit`, `predict` and
`evaluate`, through `TextBatches`, a `keras.utils.PyDataset` that
tokenizes batch by batch: pure Python and NumPy, no TensorFlow."""

import inspect
import json
import math
import os
import random

import numpy as np

from kerastack.core import keras, serializable
from kerastack.tokenizers import (
    AlbertTokenizer,
    BertTokenizer,
    BytePairTokenizer,
    CamembertTokenizer,
    GPT2Tokenizer,
    OpenAIGPTTokenizer,
    RobertaTokenizer,
    T5Tokenizer,
    XLMRobertaTokenizer,
)

__all__ = ["TextBatches", "TextClassifierPreprocessor", "bind_arguments", "is_text", "split_last"]


# How each tokenizer saves: its files (written from its public attributes)
# and its options. `options` are constructor arguments in plain types;
# `write(tokenizer, folder)` writes the files `read(folder, options)` reads.
def _write_text(path, text):
    with open(path, "w", encoding="utf-8", newline="\n") as file:
        file.write(text)


def _write_json(path, value):
    with open(path, "w", encoding="utf-8") as file:
        json.dump(value, file, ensure_ascii=False)


def _write_wordpiece(tokenizer, folder):
    tokens = sorted(tokenizer.vocabulary, key=tokenizer.vocabulary.get)
    broken = [token for token in tokens if "\n" in token or "\r" in token]
    if broken:
        raise ValueError(
            f"The tokenizer's vocabulary holds tokens with line breaks ({broken[:3]}), "
            "which a vocab.txt cannot hold."
        )
    _write_text(os.path.join(folder, "vocab.txt"), "".join(token + "\n" for token in tokens))


def _write_bpe(tokenizer, folder):
    _write_json(os.path.join(folder, "vocab.json"), tokenizer.vocabulary)
    merges = "".join(f"{left} {right}\n" for left, right in tokenizer.merges)
    _write_text(os.path.join(folder, "merges.txt"), "#version: 0.2\n" + merges)


def _read_bpe(cls):
    def read(folder, options):
        return cls(
            os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt"), **options
        )

    return read


def _write_proto(file_name):
    def write(tokenizer, folder):
        # The SentencePiece model the tokenizer was made from, byte for byte.
        with open(os.path.join(folder, file_name), "wb") as file:
            file.write(tokenizer._processor.serialized_model_proto())

    return write


def _read_proto(cls, file_name):
    def read(folder, options):
        return cls(os.path.join(folder, file_name), **options)

    return read


_TOKENIZERS = {
    "BertTokenizer": (
        BertTokenizer,
        lambda t: {
            "lowercase": t.lowercase,
            "strip_accents": t.strip_accents,
            "max_characters_per_word": t.max_characters_per_word,
        },
        _write_wordpiece,
        lambda folder, options: BertTokenizer(os.path.join(folder, "vocab.txt"), **options),
    ),
    "BytePairTokenizer": (
        BytePairTokenizer,
        lambda t: {
            "special_tokens": list(t.special_tokens),
            "add_prefix_space": t.add_prefix_space,
        },
        _write_bpe,
        _read_bpe(BytePairTokenizer),
    ),
    "RobertaTokenizer": (
        RobertaTokenizer,
        lambda t: {"add_prefix_space": t.add_prefix_space},
        _write_bpe,
        _read_bpe(RobertaTokenizer),
    ),
    "GPT2Tokenizer": (
        GPT2Tokenizer,
        lambda t: {"end_token": t.end_token, "add_prefix_space": t.add_prefix_space},
        _write_bpe,
        _read_bpe(GPT2Tokenizer),
    ),
    "OpenAIGPTTokenizer": (
        OpenAIGPTTokenizer,
        lambda t: {"unk_token": t.unk_token, "end_token": t.end_token},
        _write_bpe,
        _read_bpe(OpenAIGPTTokenizer),
    ),
    "AlbertTokenizer": (
        AlbertTokenizer,
        lambda t: {"lowercase": t.lowercase, "keep_accents": t.keep_accents},
        _write_proto("spiece.model"),
        _read_proto(AlbertTokenizer, "spiece.model"),
    ),
    "T5Tokenizer": (
        T5Tokenizer,
        lambda t: {"extra_ids": t.extra_ids},
        _write_proto("spiece.model"),
        _read_proto(T5Tokenizer, "spiece.model"),
    ),
    "XLMRobertaTokenizer": (
        XLMRobertaTokenizer,
        lambda t: {},
        _write_proto("sentencepiece.bpe.model"),
        _read_proto(XLMRobertaTokenizer, "sentencepiece.bpe.model"),
    ),
    "CamembertTokenizer": (
        CamembertTokenizer,
        lambda t: {},
        _write_proto("sentencepiece.bpe.model"),
        _read_proto(CamembertTokenizer, "sentencepiece.bpe.model"),
    ),
}


def is_text(x):
    """Whether `x` is raw text as a task model with a preprocessor takes it:
    a list, tuple or 1-D NumPy array of `str` (not empty), or a pair of
    them, `(firsts, seconds)`, as a tuple of two such sequences. One `str`
    is text too (to be refused with a message: a batch is a list).

    Example:

    >>> is_text(["a good film", "a bad one"]), is_text(np.array(["yes"]))
    (True, True)
    >>> is_text((["premise"], ["hypothesis"])), is_text({"token_ids": np.zeros((1, 4))})
    (True, False)
    """
    if isinstance(x, str):
        return True
    if isinstance(x, np.ndarray):
        if x.ndim != 1 or not x.size:
            return False
        return x.dtype.kind == "U" or (
            x.dtype.kind == "O" and all(isinstance(t, str) for t in x.tolist())
        )
    if isinstance(x, (list, tuple)) and x:
        if all(isinstance(t, str) for t in x):
            return True
        return (
            isinstance(x, tuple)
            and len(x) == 2
            and all(not isinstance(part, str) and is_text(part) for part in x)
        )
    return False


def _split_texts(x):
    """`(firsts, seconds)` of texts `x` (seconds None for single texts), as
    lists of str; anything else is a `ValueError` naming what it holds."""
    if isinstance(x, str):
        raise ValueError(
            "A preprocessor takes a batch of texts (a list of str), received one str: "
            "wrap it in a list."
        )
    if isinstance(x, tuple) and len(x) == 2 and not all(isinstance(t, str) for t in x):
        firsts, seconds = (_split_texts(part)[0] for part in x)
        if len(firsts) != len(seconds):
            raise ValueError(
                f"A pair of text batches must be as long: {len(firsts)} first texts but "
                f"{len(seconds)} second texts."
            )
        return firsts, seconds
    if isinstance(x, np.ndarray):
        if x.ndim != 1:
            raise ValueError(
                f"A preprocessor takes a 1-D array of texts, received shape {x.shape}."
            )
        x = x.tolist()
    if not isinstance(x, (list, tuple)):
        raise ValueError(
            "A preprocessor takes a list (or 1-D NumPy array) of str, or a tuple of two such "
            f"(pairs of texts); received {type(x).__name__}."
        )
    bad = [index for index, text in enumerate(x) if not isinstance(text, str)]
    if bad:
        raise ValueError(
            f"A preprocessor takes texts (str); item {bad[0]} is "
            f"{type(x[bad[0]]).__name__}: {x[bad[0]]!r}."
        )
    return list(x), None


@serializable
class TextClassifierPreprocessor(keras.layers.Layer):
    """Texts (or pairs of texts) to a model's input arrays: the tokenizer's
    model inputs, cut to and padded to `sequence_length`.

    A BERT-like tokenizer (`BertTokenizer`, `AlbertTokenizer`,
    `RobertaTokenizer`, `XLMRobertaTokenizer`, `CamembertTokenizer`,
    `T5Tokenizer`) packs each text (`[CLS] text [SEP]`) or pair, cutting the
    longer text of a pair first; a GPT tokenizer (`GPT2Tokenizer`,
    `OpenAIGPTTokenizer`, `BytePairTokenizer`, which add no special token)
    keeps the first `sequence_length` tokens of each text, pads on the right
    and takes no pairs. The result is a dict of int32 NumPy arrays `(B,
    sequence_length)`: `token_ids`, `padding_mask` (1 on real tokens) and,
    where the tokenizer has segments, `segment_ids`.

    Given to a task model (`BertClassifier(backbone, 2,
    preprocessor=...)`), it makes `fit`, `predict` and `evaluate` take raw
    strings, and it saves with the model: its config holds the tokenizer's
    class and options, and `save_assets` writes the tokenizer's files
    (`vocab.txt`; `vocab.json` and `merges.txt`; or the SentencePiece
    model) into the `.keras` file, from which `load_assets` makes the
    tokenizer again. Pure Python and NumPy: no TensorFlow on any backend.

    Args:
        tokenizer: a tokenizer of `kerastack.tokenizers` (one listed
            above, not a subclass of it: its files could not be saved).
        sequence_length: int, the length every row is cut and padded to
            (at most the backbone's `max_sequence_length`).

    Example:

    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film"]
    >>> from kerastack.tokenizers import BertTokenizer
    >>> preprocessor = TextClassifierPreprocessor(BertTokenizer(vocab), sequence_length=6)
    >>> inputs = preprocessor(["a good film", "Bad!"])
    >>> inputs["token_ids"].tolist()
    [[2, 1, 5, 7, 3, 0], [2, 6, 1, 3, 0, 0]]
    >>> inputs["padding_mask"].tolist()[1], sorted(inputs)
    ([1, 1, 1, 1, 0, 0], ['padding_mask', 'segment_ids', 'token_ids'])
    """

    def __init__(self, tokenizer, sequence_length=512, **kwargs):
        super().__init__(**kwargs)
        if isinstance(sequence_length, bool) or not isinstance(sequence_length, (int, np.integer)):
            raise ValueError(
                f"sequence_length must be a positive int, received {sequence_length!r}."
            )
        if sequence_length < 1:
            raise ValueError(f"sequence_length must be a positive int, received {sequence_length}.")
        self.sequence_length = int(sequence_length)
        if isinstance(tokenizer, dict):  # the spec get_config saved: load_assets reads the files
            self._tokenizer_spec = _check_spec(tokenizer)
            self._tokenizer = None
        else:
            self._tokenizer_spec = _spec(tokenizer)
            self._tokenizer = tokenizer
        # Texts are no tensors: Keras must neither convert them nor build
        # the layer from their shape.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True

    @property
    def tokenizer(self):
        """The tokenizer (made again by `load_assets` in a loaded model)."""
        if self._tokenizer is None:
            raise ValueError(
                f"{self.name}'s {self._tokenizer_spec['class_name']} has no files yet: a "
                "preprocessor made from a config gets them from the saved model's assets "
                "(keras.models.load_model), or call load_assets(folder)."
            )
        return self._tokenizer

    def call(self, x):
        firsts, seconds = _split_texts(x)
        tokenizer = self.tokenizer
        if isinstance(tokenizer, (GPT2Tokenizer, OpenAIGPTTokenizer)) or (
            type(tokenizer) is BytePairTokenizer
        ):
            if seconds is not None:
                raise ValueError(
                    f"{type(tokenizer).__name__} has no way to join a pair of texts; give "
                    "single texts."
                )
            return self._pack_causal(tokenizer.token_ids_batch(firsts))
        inputs = tokenizer.encode_batch(firsts, seconds, max_length=self.sequence_length)
        return {key: np.asarray(value, dtype="int32") for key, value in inputs.items()}

    def _pack_causal(self, rows):
        pad_id = getattr(self.tokenizer, "end_token_id", None)
        if pad_id is None:
            pad_id = getattr(self.tokenizer, "padding_id", 0)
        length = self.sequence_length
        token_ids = np.full((len(rows), length), pad_id, dtype="int32")
        padding_mask = np.zeros((len(rows), length), dtype="int32")
        for index, row in enumerate(rows):
            row = row[:length]
            token_ids[index, : len(row)] = row
            padding_mask[index, : len(row)] = 1
        return {"token_ids": token_ids, "padding_mask": padding_mask}

    def get_config(self):
        config = super().get_config()
        config.update(
            {"tokenizer": dict(self._tokenizer_spec), "sequence_length": self.sequence_length}
        )
        return config

    def save_assets(self, dir_path):
        """Write the tokenizer's files into `dir_path` (Keras calls it when
        the model is saved)."""
        _, _, write, _ = _TOKENIZERS[self._tokenizer_spec["class_name"]]
        write(self.tokenizer, dir_path)

    def load_assets(self, dir_path):
        """Make the tokenizer from the files in `dir_path` and the saved
        options (Keras calls it when the model is loaded)."""
        _, _, _, read = _TOKENIZERS[self._tokenizer_spec["class_name"]]
        self._tokenizer = read(dir_path, dict(self._tokenizer_spec["config"]))


def _spec(tokenizer):
    """`{"class_name", "config"}` of a tokenizer the preprocessor can save."""
    name = type(tokenizer).__name__
    entry = _TOKENIZERS.get(name)
    if entry is None or type(tokenizer) is not entry[0]:
        raise ValueError(
            "tokenizer must be one of kerastack.tokenizers' "
            f"{sorted(_TOKENIZERS)} (whose files the preprocessor saves), received "
            f"{type(tokenizer).__module__}.{type(tokenizer).__qualname__}."
        )
    return {"class_name": name, "config": entry[1](tokenizer)}


def _check_spec(spec):
    if spec.get("class_name") not in _TOKENIZERS or not isinstance(spec.get("config"), dict):
        raise ValueError(
            "A saved tokenizer spec is {'class_name': one of "
            f"{sorted(_TOKENIZERS)}, 'config': {{options}}}}; received {spec!r}."
        )
    return {"class_name": spec["class_name"], "config": dict(spec["config"])}


def _as_array(value, argument):
    """`value` (a list or array) as a NumPy array, or None."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {key: _as_array(item, f"{argument}[{key!r}]") for key, item in value.items()}
    array = np.asarray(value)
    if array.ndim == 0:
        raise ValueError(
            f"`{argument}` must be an array with one row per text, received {value!r}."
        )
    return array


class TextBatches(keras.utils.PyDataset):
    """Texts (and their labels and sample weights) as batches of a model's
    inputs, each batch tokenized when Keras asks for it: what a task model
    with a preprocessor gives `fit`, `predict` and `evaluate` for raw text.

    The inputs a batch holds are those of `input_names` (the model's): one
    the tokenizer does not give is an error, but for `segment_ids`, which
    are zeros then (one segment).

    Args:
        preprocessor: a `TextClassifierPreprocessor`.
        x: texts, as `is_text` takes them (a list of str, or a pair of lists).
        y, sample_weight: arrays (or dicts of arrays) with one row per text,
            or None.
        batch_size: int, texts per batch (the last batch may be shorter).
        shuffle: bool, a new order of the texts each epoch (Python's
            `random`, which `keras.utils.set_random_seed` seeds).
        input_names: the model's input names, or None for all the
            preprocessor gives.

    Example:

    >>> from kerastack.tokenizers import BertTokenizer
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad"]
    >>> preprocessor = TextClassifierPreprocessor(BertTokenizer(vocab), sequence_length=4)
    >>> batches = TextBatches(preprocessor, ["good", "bad", "good bad"], y=[1, 0, 1],
    ...     batch_size=2, input_names=["token_ids", "padding_mask"])
    >>> len(batches)
    2
    >>> inputs, labels = batches[1]
    >>> inputs["token_ids"].tolist(), labels.tolist()
    ([[2, 5, 6, 3]], [1])
    """

    def __init__(
        self,
        preprocessor,
        x,
        y=None,
        sample_weight=None,
        batch_size=32,
        shuffle=False,
        input_names=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise ValueError(f"batch_size must be a positive int, received {batch_size!r}.")
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, received {batch_size}.")
        firsts, seconds = _split_texts(x)
        self.preprocessor = preprocessor
        self._firsts = np.array(firsts, dtype=object)
        self._seconds = None if seconds is None else np.array(seconds, dtype=object)
        self._y = _as_array(y, "y")
        self._sample_weight = _as_array(sample_weight, "sample_weight")
        for argument, value in (("y", self._y), ("sample_weight", self._sample_weight)):
            for array in keras.tree.flatten(value) if value is not None else ():
                if len(array) != len(firsts):
                    raise ValueError(
                        f"{len(firsts)} texts but {len(array)} rows of `{argument}`: each "
                        "text needs one."
                    )
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.input_names = None if input_names is None else list(input_names)
        self._order = np.arange(len(firsts))
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self._firsts) / self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch {index} of {len(self)}.")
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        texts = self._firsts[rows].tolist()
        if self._seconds is not None:
            texts = (texts, self._seconds[rows].tolist())
        inputs = self._select(self.preprocessor(texts))
        batch = [inputs]
        if self._y is not None:
            batch.append(keras.tree.map_structure(lambda a: a[rows], self._y))
        if self._sample_weight is not None:
            if self._y is None:
                raise ValueError("sample_weight needs labels y.")
            batch.append(keras.tree.map_structure(lambda a: a[rows], self._sample_weight))
        return tuple(batch) if len(batch) > 1 else (inputs,)

    def _select(self, inputs):
        if self.input_names is None:
            return inputs
        selected = {}
        for name in self.input_names:
            if name in inputs:
                selected[name] = inputs[name]
            elif name == "segment_ids":  # one segment
                selected[name] = np.zeros_like(inputs["token_ids"])
            else:
                raise ValueError(
                    f"The model takes the input {name!r}, which the preprocessor's "
                    f"{type(self.preprocessor.tokenizer).__name__} does not give (it gives "
                    f"{sorted(inputs)})."
                )
        return selected

    def on_epoch_end(self):
        if self.shuffle:
            # Python's generator, which keras.utils.set_random_seed seeds.
            order = list(range(len(self._firsts)))
            random.shuffle(order)
            self._order = np.array(order, dtype=np.int64)


def bind_arguments(method, *args, **kwargs):
    """`{name: value}` of the arguments given to `method` (a bound method),
    by its signature: what a wrapper of Keras's `fit` reads them from.

    Example:

    >>> def fit(x=None, y=None, batch_size=None, epochs=1): ...
    >>> bind_arguments(fit, "x", None, 8, epochs=2)
    {'x': 'x', 'y': None, 'batch_size': 8, 'epochs': 2}
    """
    signature = inspect.signature(method)
    arguments = dict(signature.bind(*args, **kwargs).arguments)
    for name, parameter in signature.parameters.items():
        if parameter.kind == parameter.VAR_KEYWORD and name in arguments:
            arguments.update(arguments.pop(name))
    return arguments


def split_last(x, y, sample_weight, fraction):
    """`((x, y, sample_weight), validation)`: the texts (and rows of labels
    and weights) split as Keras's `validation_split` splits arrays, the last
    `fraction` of them (before any shuffling) held out.

    Example:

    >>> (x, y, _), validation = split_last(["a", "b", "c", "d"], [0, 1, 0, 1], None, 0.25)
    >>> x, y.tolist(), validation[0], validation[1].tolist()
    (['a', 'b', 'c'], [0, 1, 0], ['d'], [1])
    """
    firsts, seconds = _split_texts(x)
    at = int(math.floor(len(firsts) * (1.0 - fraction)))
    if at in (0, len(firsts)):
        raise ValueError(
            f"validation_split={fraction} of {len(firsts)} texts leaves no texts to "
            f"{'train on' if at == 0 else 'validate on'}."
        )

    def rows(value, part):
        if value is None:
            return None
        return keras.tree.map_structure(
            lambda a: a[:at] if part == 0 else a[at:], _as_array(value, "y")
        )

    def texts(part):
        cut = (lambda t: t[:at]) if part == 0 else (lambda t: t[at:])
        return cut(firsts) if seconds is None else (cut(firsts), cut(seconds))

    train = (texts(0), rows(y, 0), rows(sample_weight, 0))
    validation = (texts(1), rows(y, 1), rows(sample_weight, 1))
    return train, validation
