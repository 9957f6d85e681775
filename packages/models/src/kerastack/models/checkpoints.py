"""Checkpoints in and out of kerastack models, for every family: HF
safetensors and PyTorch files (`read_checkpoint_tensors`), one way to
declare a family's weights (a table of `(variable, hf_name, Layout)`), the
strict all-or-nothing assignment (`assign_hf_tensors`), and atomic writing
(`write_checkpoint`).

A family declares its table as the model's `hf_weight_table()` method and,
where they differ from the defaults, the prefix HF's task models put before
the names (`hf_prefix`), the tensors it leaves out (`hf_ignored_prefixes`)
and its position table (`hf_position_table`, which
`allow_longer_position_table` may slice).
"""

import contextlib
import json
import math
import mmap
import os
import uuid
import warnings

import numpy as np

from kerastack.core import read_torch_file, standardize_dtype, static_shape
from kerastack.tokenizers import parse_json, read_json_object

__all__ = [
    "POOLER_TENSORS",
    "SAME",
    "TRANSPOSE",
    "Layout",
    "assign_hf_tensors",
    "attention_head_layouts",
    "block_weight_table",
    "read_checkpoint_tensors",
    "read_safetensors",
    "read_sharded_safetensors",
    "write_checkpoint",
]


class Layout:
    """How an HF tensor is laid out in a weight, both ways: `to_ours(hf_array)`
    and `to_hf(our_array)` (every family's tables use it).

    Example:

    >>> # HF Linear weights are (D_out, D_in), Keras Dense kernels (D_in, D_out).
    >>> transpose = Layout(lambda value: value.T, lambda value: value.T)
    >>> transpose.to_ours(np.zeros((3, 8))).shape
    (8, 3)
    >>> transpose.to_hf(np.zeros((8, 3))).shape
    (3, 8)
    """

    def __init__(self, to_ours, to_hf):
        self.to_ours, self.to_hf = to_ours, to_hf


SAME = Layout(lambda value: value, lambda value: value)
# HF Linear weights are (D_out, D_in); Keras Dense kernels (D_in, D_out).
TRANSPOSE = Layout(lambda value: value.T, lambda value: value.T)


def _heads(num_heads):
    """(D_out, D_in) HF matrix <-> (D_in, N, H) EinsumDense kernel."""
    return Layout(
        lambda value: value.T.reshape(value.shape[1], num_heads, -1),
        lambda value: value.reshape(value.shape[0], -1).T,
    )


def _head_bias(num_heads):
    """(D,) HF bias <-> (N, H) EinsumDense bias."""
    return Layout(lambda value: value.reshape(num_heads, -1), lambda value: value.reshape(-1))


def _output_heads(num_heads):
    """(D_out, D_in) HF matrix <-> (N, H, D_out) EinsumDense kernel."""
    return Layout(
        lambda value: value.T.reshape(num_heads, -1, value.shape[0]),
        lambda value: value.reshape(-1, value.shape[-1]).T,
    )


def attention_head_layouts(num_heads):
    """`(query/key/value kernel, their bias, output kernel)` layouts between
    HF's `(D_out, D_in)` Linear matrices and kerastack's per-head
    EinsumDense weights, for `num_heads` heads.

    Example:

    >>> kernel, bias, output = attention_head_layouts(2)
    >>> kernel.to_ours(np.zeros((8, 6))).shape  # HF (D_out, D_in) -> (D_in, N, H)
    (6, 2, 4)
    >>> output.to_hf(np.zeros((2, 4, 6))).shape
    (6, 8)
    """
    return _heads(num_heads), _head_bias(num_heads), _output_heads(num_heads)


def block_weight_table(block, num_heads, prefix, names):
    """The table of one post-norm `TransformerEncoder` block whose HF
    sublayers are `prefix + names[part]` (see `BERT_BLOCK_NAMES`).

    Example:

    >>> from kerastack.transformer import TransformerEncoder
    >>> block = TransformerEncoder(intermediate_dim=16, num_heads=2)
    >>> block.build((None, None, 8))
    >>> parts = ["query", "key", "value", "attention_output", "attention_norm"]
    >>> names = {part: part for part in parts + ["intermediate", "output", "output_norm"]}
    >>> table = block_weight_table(block, 2, "encoder.layer.0.", names)
    >>> len(table)  # a kernel (or gamma) and a bias (or beta) for each of 8 parts
    16
    >>> variable, hf_name, layout = table[0]
    >>> hf_name, tuple(variable.shape), layout.to_hf(np.zeros((8, 2, 4))).shape
    ('encoder.layer.0.query.weight', (8, 2, 4), (8, 8))
    """
    attention, feed_forward = block.self_attention, block.feed_forward
    table = []
    for part in ("query", "key", "value"):
        dense = getattr(attention, f"{part}_dense")
        name = prefix + names[part]
        table.append((dense.kernel, name + ".weight", _heads(num_heads)))
        table.append((dense.bias, name + ".bias", _head_bias(num_heads)))
    for dense, part, layout in (
        (attention.output_dense, "attention_output", _output_heads(num_heads)),
        (feed_forward.intermediate_dense, "intermediate", TRANSPOSE),
        (feed_forward.output_dense, "output", TRANSPOSE),
    ):
        table.append((dense.kernel, prefix + names[part] + ".weight", layout))
        table.append((dense.bias, prefix + names[part] + ".bias", SAME))
    for norm, part in (
        (block.self_attention_layer_norm, "attention_norm"),
        (block.feed_forward_layer_norm, "output_norm"),
    ):
        table.append((norm.gamma, prefix + names[part] + ".weight", SAME))
        table.append((norm.beta, prefix + names[part] + ".bias", SAME))
    return table


def _canonical(name, prefix):
    """HF's name for a tensor: without the prefix of task models ("bert.",
    "roberta.", ...), and with the old LayerNorm names (gamma, beta) as
    today's (weight, bias)."""
    if prefix and name.startswith(prefix):
        name = name[len(prefix) :]
    if ".LayerNorm." in name:
        name = name.replace("LayerNorm.gamma", "LayerNorm.weight")
        name = name.replace("LayerNorm.beta", "LayerNorm.bias")
    return name


# safetensors dtypes as NumPy reads them (little-endian). BF16 is read as
# float32 (NumPy has no bfloat16): its bits are float32's upper half.
_SAFETENSORS_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "BF16": "<u2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U64": "<u8",
    "U32": "<u4",
    "U16": "<u2",
    "U8": "u1",
    "BOOL": "?",
}
# The library's own limit on a header's size.
_MAX_HEADER_BYTES = 100_000_000


def _safetensors_header(path, file_size, header_bytes):
    """`{name: (dtype, shape, begin, end)}` of a safetensors header, offsets
    counted from the file's start; a `ValueError` names what is wrong."""
    unreadable = f"{path} is not a readable safetensors file"
    try:
        header = parse_json(header_bytes.decode("utf-8"))
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise ValueError(f"{unreadable}: its header is not JSON ({error}).") from error
    if not isinstance(header, dict):
        raise ValueError(f"{unreadable}: its header is not a JSON object.")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"{unreadable}: __metadata__ is not an object of strings.")
    data_start = 8 + len(header_bytes)
    entries, spans = {}, []
    for name, entry in header.items():
        problem = f"{unreadable}: tensor {name!r}"
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"{problem} is not described by dtype, shape and data_offsets.")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _SAFETENSORS_DTYPES:
            raise ValueError(
                f"{problem} has dtype {dtype!r}, which kerastack does not read (it reads "
                f"{', '.join(_SAFETENSORS_DTYPES)})."
            )
        sizes = shape if isinstance(shape, list) else [None]
        if not all(type(size) is int and size >= 0 for size in sizes):
            raise ValueError(f"{problem} has shape {shape!r}, not a list of sizes.")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(type(offset) is int for offset in offsets)
            and 0 <= offsets[0] <= offsets[1] <= file_size - data_start
        ):
            raise ValueError(
                f"{problem} has data_offsets {offsets!r}, outside the file's "
                f"{file_size - data_start} bytes of data."
            )
        length = math.prod(sizes) * np.dtype(_SAFETENSORS_DTYPES[dtype]).itemsize
        if offsets[1] - offsets[0] != length:
            raise ValueError(
                f"{problem} of dtype {dtype} and shape {tuple(shape)} needs {length} bytes, "
                f"its data_offsets {offsets} span {offsets[1] - offsets[0]}."
            )
        entries[name] = (dtype, tuple(shape), data_start + offsets[0], data_start + offsets[1])
        spans.append((offsets[0], offsets[1], name))
    # The tensors' bytes follow one another from the header to the file's end.
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            raise ValueError(
                f"{unreadable}: tensor {name!r} starts at byte "
                f"{begin} of the data, where {position} was expected (tensors overlap, or "
                "bytes lie between them)."
            )
        position = end
    if position != file_size - data_start:
        raise ValueError(
            f"{unreadable}: its tensors hold {position} bytes of "
            f"data, the file {file_size - data_start} (truncated, or bytes appended)."
        )
    return entries


def read_safetensors(path):
    """`{name: NumPy array}` of a `.safetensors` file. BF16 tensors are read
    as float32 (exactly); float8 and other dtypes NumPy lacks are refused.

    A missing file is a `FileNotFoundError`; a truncated or corrupt one (a
    header that is not a JSON object, a dtype or shape that is not one, data
    offsets outside the file or overlapping) a `ValueError` naming the file
    and what is wrong.

    Example:

    >>> import os, tempfile
    >>> from safetensors.numpy import save_file
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> save_file({"embeddings.word_embeddings.weight": np.ones((30, 8), "float16")}, path)
    >>> tensors = read_safetensors(path)
    >>> tensors["embeddings.word_embeddings.weight"].shape
    (30, 8)
    >>> with open(path, "r+b") as file:  # cut off the last tensor's last bytes
    ...     _ = file.truncate(os.path.getsize(path) - 4)
    >>> read_safetensors(path)
    Traceback (most recent call last):
    ...
    ValueError: .../model.safetensors is not a readable safetensors file: ...
    """
    path = _path_argument(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No checkpoint file at {path}.")
    with open(path, "rb") as file:
        file_size = os.fstat(file.fileno()).st_size
        prefix = file.read(8)
        if len(prefix) < 8:
            raise ValueError(
                f"{path} is not a readable safetensors file: it holds {file_size} bytes, "
                "fewer than a header's length."
            )
        header_size = int.from_bytes(prefix, "little")
        if header_size > min(_MAX_HEADER_BYTES, file_size - 8):
            raise ValueError(
                f"{path} is not a readable safetensors file: its header would be {header_size} "
                f"bytes long, the file holds {file_size}."
            )
        entries = _safetensors_header(path, file_size, file.read(header_size))
        if not entries:
            return {}
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return {name: _tensor(data, *entry) for name, entry in entries.items()}


def _tensor(data, dtype, shape, begin, end):
    """One tensor of a safetensors file's bytes `data`, as its own array."""
    stored = np.dtype(_SAFETENSORS_DTYPES[dtype])
    value = np.frombuffer(data, stored, (end - begin) // stored.itemsize, begin).reshape(shape)
    if dtype == "BF16":
        return (value.astype("<u4") << 16).view("<f4")
    return value.astype(stored.newbyteorder("="))


def _path_argument(path, what="A checkpoint path"):
    """`os.fspath(path)`, or a `ValueError` for a value that is no path."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"{what} is a str or os.PathLike, received {path!r}.")
    return os.fspath(path)


# HF's names for a checkpoint's weights in a folder, in the order read: one
# safetensors file, the index of sharded ones, a PyTorch file.
SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
_TORCH_FILE = "pytorch_model.bin"


def read_checkpoint_tensors(path):
    """`(file, {name: array})` of an HF checkpoint: a `model.safetensors`,
    the `model.safetensors.index.json` of sharded safetensors files (see
    `read_sharded_safetensors`), a `pytorch_model.bin` (needs PyTorch), or
    the folder holding one (in that order, as transformers looks). A missing
    file is a `FileNotFoundError`, an unreadable one a `ValueError`, each
    naming the file.

    Example:

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> write_checkpoint(folder, {"pooler.dense.bias": np.zeros(8, "float32")}, "{}")
    >>> path, tensors = read_checkpoint_tensors(folder)
    >>> os.path.basename(path), tensors["pooler.dense.bias"].shape
    ('model.safetensors', (8,))
    """
    path = _path_argument(path)
    if os.path.isdir(path):
        candidates = [
            os.path.join(path, name) for name in (SAFETENSORS_FILE, SAFETENSORS_INDEX, _TORCH_FILE)
        ]
        path = next((p for p in candidates if os.path.exists(p)), candidates[0])
    if path.endswith(".bin"):
        if not os.path.exists(path):
            raise FileNotFoundError(f"No checkpoint file at {path}.")
        return path, read_torch_file(path)
    if path.endswith(".index.json"):
        return path, read_sharded_safetensors(path)
    return path, read_safetensors(path)


def read_sharded_safetensors(index_path):
    """`{name: NumPy array}` of a checkpoint saved in shards, as HF saves a
    large one: the index `model.safetensors.index.json` maps each tensor
    (its `weight_map`) to the safetensors file beside it that holds it.

    Reading is strict, so a shard lost or saved twice is never half-read:
    a shard the index names but the folder lacks is a `FileNotFoundError`
    naming it; a tensor the index lists but its shard lacks, a tensor found
    in two shards, or one in a shard the index does not list it in, is a
    `ValueError` naming the tensors (all at once), as is an index that is not
    one (no `weight_map` of names to file names beside it).

    Example:

    >>> import json, os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> tensors = {"a": np.ones((4, 8), "float32"), "b": np.zeros((4, 8), "float32")}
    >>> write_checkpoint(folder, tensors, "{}", max_shard_size=200)  # 128 bytes each
    >>> sorted(os.listdir(folder))
    ['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors',
     'model.safetensors.index.json']
    >>> index = os.path.join(folder, "model.safetensors.index.json")
    >>> sorted(read_sharded_safetensors(index))
    ['a', 'b']
    >>> os.remove(os.path.join(folder, "model-00002-of-00002.safetensors"))
    >>> read_sharded_safetensors(index)
    Traceback (most recent call last):
    ...
    FileNotFoundError: .../model.safetensors.index.json names shards that are not there: ...
    (holding b).
    """
    index_path = _path_argument(index_path)
    if not os.path.exists(index_path):
        raise FileNotFoundError(f"No checkpoint index at {index_path}.")
    index = read_json_object(index_path)
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise ValueError(
            f"{index_path} is not a sharded checkpoint's index: it has no weight_map (an "
            f"object from each tensor's name to its shard's file name); received {weight_map!r}."
        )
    folder = os.path.dirname(index_path)
    shards = {}  # shard file name -> the tensors the index puts in it
    for name, shard in weight_map.items():
        if (
            not isinstance(shard, str)
            or not shard
            or os.path.basename(shard) != shard
            or shard in (".", "..")
        ):
            raise ValueError(
                f"{index_path} puts tensor {name!r} in {shard!r}, which is not the name of a "
                "file beside the index."
            )
        shards.setdefault(shard, []).append(name)
    absent = sorted(shard for shard in shards if not os.path.isfile(os.path.join(folder, shard)))
    if absent:
        listed = "; ".join(
            f"{shard} (holding {', '.join(sorted(shards[shard]))})" for shard in absent
        )
        raise FileNotFoundError(f"{index_path} names shards that are not there: {listed}.")
    tensors, found_in = {}, {}
    for shard in sorted(shards):
        for name, value in read_safetensors(os.path.join(folder, shard)).items():
            found_in.setdefault(name, []).append(shard)
            tensors[name] = value
    problems = []
    twice = sorted(
        f"{name} ({' and '.join(where)})" for name, where in found_in.items() if len(where) > 1
    )
    if twice:
        problems.append(f"tensors in more than one shard: {', '.join(twice)}")
    lacking = sorted(
        f"{name} ({shard})"
        for name, shard in weight_map.items()
        if shard not in found_in.get(name, [])
    )
    if lacking:
        problems.append(f"tensors the index lists but their shard lacks: {', '.join(lacking)}")
    unlisted = sorted(
        f"{name} ({where[0]})"
        for name, where in found_in.items()
        if len(where) == 1 and weight_map.get(name) != where[0]
    )
    if unlisted:
        problems.append(
            f"tensors in a shard the index does not list them in: {', '.join(unlisted)}"
        )
    if problems:
        raise ValueError(f"{index_path} does not match its shards ({'; '.join(problems)}).")
    return tensors


# The pooler's tensors (BERT and RoBERTa's names, ALBERT's): the only ones a
# checkpoint may lack, all together.
POOLER_TENSORS = ("pooler.dense.weight", "pooler.dense.bias", "pooler.weight", "pooler.bias")


# (a tied copy, the tensor it copies) in HF's BERT-style masked-LM heads.
_TIED_COPIES = (
    ("cls.predictions.decoder.weight", "embeddings.word_embeddings.weight"),
    ("cls.predictions.decoder.bias", "cls.predictions.bias"),
)


def _same_values(copy, original):
    if original is None:
        return False
    copy, original = np.asarray(copy), np.asarray(original)
    return copy.shape == original.shape and np.array_equal(copy, original)


def assign_hf_tensors(backbone, tensors, source, allow_longer_position_table=False):
    """Assign checkpoint tensors already read (`{hf_name: array}`) to the
    weights `backbone.hf_weight_table()` declares; `source` names where they
    came from in errors.

    Any model family can use it: the model gives its table as
    `hf_weight_table()`, and may name the prefix of HF's task models
    (`hf_prefix`, none by default), the tensors it leaves out
    (`hf_ignored_prefixes`) and its position table (`hf_position_table`).

    A `ValueError` lists, at once, every missing, unexpected, duplicated
    (two names of one weight), non-floating or mis-shaped tensor (shapes in
    the checkpoint's layout); no weight changes then. Returns the names of
    the tensors left out.

    In a family's loader: `path, tensors = read_checkpoint_tensors(folder)`,
    the family's own handling of some tensors, then
    `assign_hf_tensors(backbone, tensors, path)`.

    Example:

    >>> from kerastack.core import keras
    >>> dense = keras.layers.Dense(2)
    >>> dense.build((None, 3))
    >>> class Classifier:  # any object that declares its weights
    ...     def hf_weight_table(self):
    ...         return [
    ...             (dense.kernel, "classifier.weight", TRANSPOSE),
    ...             (dense.bias, "classifier.bias", SAME),
    ...         ]
    >>> tensors = {"classifier.weight": np.ones((2, 3), "float32"),
    ...            "classifier.bias": np.zeros(2, "float32")}
    >>> assign_hf_tensors(Classifier(), tensors, "classifier.safetensors")  # none left out
    []
    >>> keras.ops.convert_to_numpy(dense.kernel).shape  # HF's (2, 3) transposed
    (3, 2)
    >>> assign_hf_tensors(Classifier(), {"classifier.weight": np.ones((3, 3))}, "bad.safetensors")
    Traceback (most recent call last):
    ...
    ValueError: bad.safetensors does not fit this Classifier (missing tensors: classifier.bias;
    shape mismatches (in the checkpoint's layout): classifier.weight: checkpoint (3, 3),
    model (2, 3)).
    """
    if not hasattr(backbone, "hf_weight_table"):
        raise TypeError(
            f"A {type(backbone).__name__} has no hf_weight_table(): it declares no checkpoint "
            "weights to load."
        )
    _refuse_quantized(backbone, "A checkpoint loads into the float model")
    prefix = getattr(backbone, "hf_prefix", "")
    position_table = getattr(backbone, "hf_position_table", "embeddings.position_embeddings.weight")
    table = backbone.hf_weight_table()
    wanted = {name for _, name, _ in table}
    # A prefix is left out only where the model has no weight under it: a
    # task model loads its own head strictly (`classifier.` is ignored by a
    # backbone, never by a classifier).
    ignored_prefixes = tuple(
        start
        for start in getattr(backbone, "hf_ignored_prefixes", ())
        if not any(name.startswith(start) for name in wanted)
    )
    names = [name for name in tensors if not isinstance(name, str)]
    if names:
        raise ValueError(f"{source} holds tensors named by non-strings: {names[:5]!r}.")
    # Two names of one weight (with and without the task models' prefix, or
    # LayerNorm's old and new names): which to load is not ours to guess.
    originals = {}
    for name in tensors:
        originals.setdefault(_canonical(name, prefix), []).append(name)
    duplicated = sorted(
        " and ".join(sorted(names)) + f" (both {name})"
        for name, names in originals.items()
        if len(names) > 1 and name in wanted
    )
    tensors = {_canonical(name, prefix): value for name, value in tensors.items()}
    # The decoder of BERT-style masked-LM heads is the word embedding table
    # and the head's bias, tied: a copy is left out, and a decoder that is
    # not a copy (an untied head) is unexpected, not silently dropped.
    for copy, original in _TIED_COPIES:
        if copy in tensors and _same_values(tensors[copy], tensors.get(original)):
            del tensors[copy]
    ignored = sorted(n for n in tensors if n not in wanted and n.startswith(ignored_prefixes))
    unexpected = sorted(n for n in tensors if n not in wanted and n not in ignored)
    missing = sorted(name for name in wanted if name not in tensors)
    # Masked-LM checkpoints (roberta-base, roberta-large, ...) were saved
    # without a pooler: with no pooler tensor at all, the rest loads and the
    # pooler keeps its initialization, as in transformers (with a warning).
    pooler = sorted(name for name in wanted if name in POOLER_TENSORS)
    no_pooler = bool(pooler) and missing == pooler
    if no_pooler:
        missing = []
    values, mismatched, not_floats, overflowing = [], [], [], []
    for variable, name, layout in table:
        if name not in tensors:
            continue
        value = np.asarray(tensors[name])
        if value.dtype.kind != "f":
            not_floats.append(f"{name} ({value.dtype})")
            continue
        original = value.shape
        expected = _hf_shape(layout, tuple(static_shape(variable)))  # the checkpoint's layout
        if (
            allow_longer_position_table
            and name == position_table
            and value.ndim == len(expected) >= 1
            and value.shape[1:] == expected[1:]
            and value.shape[0] > expected[0]
        ):
            value = value[: expected[0]]
        if value.shape != expected:
            mismatched.append(f"{name}: checkpoint {original}, model {expected}")
            continue
        value = layout.to_ours(value)
        with np.errstate(over="ignore"):  # overflow is reported below, by name
            cast = value.astype(standardize_dtype(variable.dtype))
        if cast.dtype.itemsize < value.dtype.itemsize and not np.array_equal(
            np.isfinite(cast), np.isfinite(value)
        ):
            overflowing.append(f"{name} ({value.dtype} to {cast.dtype})")
            continue
        values.append((variable, cast))
    problems = []
    if missing:
        problems.append(f"missing tensors: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected tensors: {', '.join(unexpected)}")
    if duplicated:
        problems.append(f"tensors holding the same weight: {'; '.join(duplicated)}")
    if not_floats:
        problems.append(f"tensors that are not floating point: {', '.join(not_floats)}")
    if mismatched:
        problems.append("shape mismatches (in the checkpoint's layout): " + "; ".join(mismatched))
    if overflowing:
        problems.append(
            f"tensors with values out of the model's dtype's range: {', '.join(overflowing)}"
        )
    if problems:
        kind = type(backbone).__name__
        raise ValueError(f"{source} does not fit this {kind} ({'; '.join(problems)}).")
    for variable, value in values:
        variable.assign(value)
    if no_pooler:
        warnings.warn(
            f"{source} has no pooler ({', '.join(pooler)}): it was saved without one (a "
            "masked-LM checkpoint). Every other weight is loaded; the pooler keeps its "
            "random initialization, so `pooled_output` means nothing until fine-tuned.",
            stacklevel=2,
        )
    return ignored


def _refuse_quantized(model, what):
    """A ValueError naming `model`'s quantized layers, if it has any: HF's
    checkpoints hold float weights, which quantized layers no longer have."""
    layers = getattr(model, "_flatten_layers", None)
    quantized = [
        layer.name
        for layer in (layers(include_self=False) if layers else ())
        if getattr(layer, "quantization_mode", None) is not None
    ]
    if quantized:
        raise ValueError(
            f"This {type(model).__name__} is quantized (layers {quantized[:4]}"
            f"{', ...' if len(quantized) > 4 else ''}): {what}, then quantize()."
        )


def _hf_shape(layout, shape):
    """The shape, in the checkpoint's layout, of a weight of `shape`."""
    return tuple(layout.to_hf(np.broadcast_to(np.float32(0), shape)).shape)


def write_checkpoint(folder, tensors, config_text, max_shard_size=None):
    """Write an HF checkpoint folder: `model.safetensors` holding `tensors`
    (`{hf_name: NumPy array}`) and `config.json` holding `config_text`.

    With `max_shard_size` (bytes, an int), the tensors go to shards as HF
    saves a large checkpoint: `model-00001-of-0000N.safetensors`, ...,
    each holding tensors in order up to `max_shard_size` bytes (a larger
    tensor alone), and `model.safetensors.index.json` mapping each tensor
    to its shard. The other layout's files a folder held before (a
    `model.safetensors`, or an index and the shards it names) are removed,
    so the folder holds one checkpoint.

    Every file is written in full to a temporary file in `folder` before
    any replaces the old one (`os.replace`): a failure while writing (a
    full disk, a read-only folder) leaves the files there were, and no
    temporary file, and is an `OSError` naming the file.

    Example:

    >>> import json, os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> write_checkpoint(folder, {"w": np.ones((2, 3), "float32")}, json.dumps({"a": 1}))
    >>> read_safetensors(os.path.join(folder, "model.safetensors"))["w"].shape
    (2, 3)
    """
    folder = _path_argument(folder, "A checkpoint folder")
    quantized = sorted(
        name for name, value in tensors.items() if np.asarray(value).dtype in (np.int8, np.uint8)
    )
    if quantized:
        raise ValueError(
            f"Not writing {folder}: the tensors {quantized} are int8 (a quantized model's "
            "weights). Export the float model, before quantize()."
        )
    if max_shard_size is not None and (
        not isinstance(max_shard_size, int)
        or isinstance(max_shard_size, bool)
        or max_shard_size < 1
    ):
        raise ValueError(
            f"max_shard_size is a number of bytes (a positive int) or None; received "
            f"{max_shard_size!r}."
        )
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise OSError(f"Could not make the checkpoint folder {folder}: {error}") from error
    index_path = os.path.join(folder, SAFETENSORS_INDEX)
    old_shards = _indexed_shards(index_path)
    writers = {}  # the weights first, config.json last (and replaced last)
    if max_shard_size is None:
        writers[os.path.join(folder, SAFETENSORS_FILE)] = lambda path: _write_safetensors(
            tensors, path
        )
        stale = [index_path, *old_shards]
    else:
        groups = _shard_groups(tensors, max_shard_size)
        names = [f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors" for i in range(len(groups))]
        weight_map = {
            name: shard for shard, group in zip(names, groups, strict=True) for name in group
        }
        total = sum(np.asarray(value).nbytes for value in tensors.values())
        index_text = json.dumps(
            {"metadata": {"total_size": int(total)}, "weight_map": weight_map}, indent=2
        )
        for shard, group in zip(names, groups, strict=True):
            writers[os.path.join(folder, shard)] = lambda path, group=group: _write_safetensors(
                group, path
            )
        writers[index_path] = lambda path: _write_text(index_text + "\n", path)
        stale = [os.path.join(folder, SAFETENSORS_FILE)]
        stale += [shard for shard in old_shards if os.path.basename(shard) not in names]
    writers[os.path.join(folder, "config.json")] = lambda path: _write_text(config_text, path)
    _write_files(writers)
    # Never a file just written (an old index may name any file), only files.
    for path in stale:
        if path not in writers and os.path.isfile(path):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)


def _shard_groups(tensors, max_shard_size):
    """`tensors` split in order into dicts of at most `max_shard_size` bytes
    each (a larger tensor alone); one empty dict for no tensors."""
    groups, size = [{}], 0
    for name, value in tensors.items():
        nbytes = np.asarray(value).nbytes
        if groups[-1] and size + nbytes > max_shard_size:
            groups.append({})
            size = 0
        groups[-1][name] = value
        size += nbytes
    return groups


def _indexed_shards(index_path):
    """The paths of the shards a folder's old index names (none when there
    is no readable index): the files a new checkpoint replaces."""
    try:
        weight_map = read_json_object(index_path).get("weight_map")
    except (OSError, ValueError):
        return []
    if not isinstance(weight_map, dict):
        return []
    folder = os.path.dirname(index_path)
    return sorted(
        os.path.join(folder, shard)
        for shard in set(weight_map.values())
        if isinstance(shard, str)
        and shard not in ("", ".", "..")
        and os.path.basename(shard) == shard
        and shard.endswith(".safetensors")
    )


def _write_safetensors(tensors, path):
    from safetensors import SafetensorError
    from safetensors.numpy import save_file

    try:
        save_file(tensors, path, metadata={"format": "pt"})
    except SafetensorError as error:  # the library's wrapper of an I/O error
        raise OSError(str(error)) from error


def _write_text(text, path):
    with open(path, "x", encoding="utf-8") as file:
        file.write(text)


def _write_files(writers):
    """Write each file `path` of `{path: writer}` (`writer(temporary_path)`
    writes it) to a temporary file beside it, flushed to disk, then replace
    every `path` by its temporary file. Any failure removes the temporary
    files, leaves every `path` as it was (unless the failure is in
    `os.replace` itself, after some were replaced) and is an `OSError`
    naming the path."""
    token = f"{os.getpid()}.{uuid.uuid4().hex[:12]}"
    temporary = {
        path: os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{token}.tmp")
        for path in writers
    }
    try:
        for path, writer in writers.items():
            try:
                writer(temporary[path])
                with open(temporary[path], "rb") as file:
                    os.fsync(file.fileno())
            except OSError as error:
                raise OSError(f"Could not write {path}: {error}") from error
        for path in writers:
            try:
                os.replace(temporary[path], path)
            except OSError as error:
                raise OSError(f"Could not write {path}: {error}") from error
    finally:
        for path in temporary.values():
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
