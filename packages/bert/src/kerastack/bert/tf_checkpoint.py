"""Read TensorFlow checkpoints (Google's original BERT files) with NumPy alone.

A checkpoint `prefix` is two kinds of file: `prefix.index`, a sorted table
(LevelDB's SSTable layout) from tensor name to a small protocol-buffer
record (dtype, shape, which data file, offset, size), and
`prefix.data-00000-of-0000N`, the tensors' bytes. No maintained library
reads them without TensorFlow; this reads exactly the parts TensorFlow
writes for a checkpoint (uncompressed blocks, whole tensors).
"""

import os
import struct

import numpy as np

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_BLOCK_TRAILER_SIZE = 5  # compression type byte + crc32c
# tensorflow/core/framework/types.proto
_DTYPES = {
    1: "float32",
    2: "float64",
    3: "int32",
    4: "uint8",
    5: "int16",
    6: "int8",
    9: "int64",
    10: "bool",
    14: "bfloat16",
    17: "uint16",
    19: "float16",
    22: "uint32",
    23: "uint64",
}


class CheckpointError(ValueError):
    """A checkpoint file that is missing, truncated, corrupt or of a kind
    this reader does not handle."""


def _varint(data, position):
    result, shift = 0, 0
    while True:
        if position >= len(data):
            raise CheckpointError("truncated variable-length integer")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift > 63:
            raise CheckpointError("malformed variable-length integer")


def _fields(data):
    """`(field number, value)` pairs of a serialized protocol buffer message."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, position = _varint(data, position)
        elif wire_type == 1:
            value, position = data[position : position + 8], position + 8
        elif wire_type == 2:
            length, position = _varint(data, position)
            value, position = data[position : position + length], position + length
        elif wire_type == 5:
            value, position = data[position : position + 4], position + 4
        else:
            raise CheckpointError(f"unsupported protocol buffer wire type {wire_type}")
        if position > len(data):
            raise CheckpointError("truncated protocol buffer record")
        yield number, value


def _block_entries(data, offset, size, path):
    """Key/value pairs of one table block."""
    end = offset + size
    if end + _BLOCK_TRAILER_SIZE > len(data):
        raise CheckpointError(f"{path} is truncated (a block ends past the end of the file)")
    compression = data[end]
    if compression != 0:
        raise CheckpointError(
            f"{path} has compressed blocks (type {compression}); TensorFlow writes "
            "checkpoint indexes uncompressed"
        )
    block = data[offset:end]
    if len(block) < 4:
        raise CheckpointError(f"{path} has a malformed block")
    restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * restarts
    if limit < 0:
        raise CheckpointError(f"{path} has a malformed block")
    position, key = 0, b""
    while position < limit:
        shared, position = _varint(block, position)
        unshared, position = _varint(block, position)
        value_length, position = _varint(block, position)
        key = key[:shared] + block[position : position + unshared]
        position += unshared
        value = block[position : position + value_length]
        position += value_length
        if position > limit:
            raise CheckpointError(f"{path} has a malformed block entry")
        yield key, value


def _read_table(path):
    """`{key: value}` of an SSTable file."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"No checkpoint index at {path}.") from None
    if len(data) < _FOOTER_SIZE:
        raise CheckpointError(f"{path} is too short to be a checkpoint index")
    footer = data[-_FOOTER_SIZE:]
    magic = struct.unpack_from("<Q", footer, 40)[0]
    if magic != _TABLE_MAGIC:
        raise CheckpointError(f"{path} is not a TensorFlow checkpoint index (bad magic number)")
    _, position = _varint(footer, 0)  # metaindex handle: offset
    _, position = _varint(footer, position)  # and size
    index_offset, position = _varint(footer, position)
    index_size, _ = _varint(footer, position)
    table = {}
    for _, handle in _block_entries(data, index_offset, index_size, path):
        block_offset, position = _varint(handle, 0)
        block_size, _ = _varint(handle, position)
        for key, value in _block_entries(data, block_offset, block_size, path):
            table[key] = value
    return table


def _entry(record, name):
    entry = {"dtype": None, "shape": (), "shard": 0, "offset": 0, "size": 0}
    for number, value in _fields(record):
        if number == 1:
            entry["dtype"] = value
        elif number == 2:
            dims = []
            for dim_number, dim in _fields(value):
                if dim_number == 2:
                    sizes = [size for n, size in _fields(dim) if n == 1]
                    dims.append(sizes[0] if sizes else 0)
            entry["shape"] = tuple(dims)
        elif number == 3:
            entry["shard"] = value
        elif number == 4:
            entry["offset"] = value
        elif number == 5:
            entry["size"] = value
        elif number == 7:
            raise CheckpointError(f"tensor {name!r} is stored in slices, which are not supported")
    return entry


def checkpoint_prefix(path):
    """The prefix of the checkpoint at `path`: a prefix, its `.index` file,
    or a folder with one checkpoint (`bert_model.ckpt.index`, ...)."""
    if os.path.isdir(path):
        indexes = sorted(name for name in os.listdir(path) if name.endswith(".index"))
        if len(indexes) != 1:
            raise FileNotFoundError(
                f"Expected one checkpoint (*.index) in {path}, found {indexes or 'none'}."
            )
        return os.path.join(path, indexes[0][: -len(".index")])
    return path[: -len(".index")] if path.endswith(".index") else path


def read_tf_checkpoint(path, names=None):
    """`{name: array}` of a TensorFlow checkpoint, read with NumPy alone.

    Args:
        path: the checkpoint prefix (`.../bert_model.ckpt`), its `.index`
            file, or the folder holding it.
        names: optional collection of names to read (default: all).
    """
    prefix = checkpoint_prefix(path)
    table = _read_table(prefix + ".index")
    header = dict(_fields(table.pop(b"", b"")))
    num_shards = header.get(1, 1)
    if header.get(2, 0) != 0:
        raise CheckpointError(f"{prefix} is big-endian; only little-endian checkpoints are read")
    shards = {}
    tensors = {}
    for key, record in sorted(table.items()):
        name = key.decode("utf-8")
        if names is not None and name not in names:
            continue
        entry = _entry(record, name)
        dtype = _DTYPES.get(entry["dtype"])
        if dtype is None:
            raise CheckpointError(
                f"tensor {name!r} has an unsupported dtype (code {entry['dtype']})"
            )
        if dtype == "bfloat16":
            raise CheckpointError(f"tensor {name!r} is bfloat16, which NumPy cannot hold")
        expected = int(np.prod(entry["shape"], dtype=np.int64)) * np.dtype(dtype).itemsize
        if expected != entry["size"]:
            raise CheckpointError(
                f"tensor {name!r}: {entry['size']} bytes for shape {entry['shape']} {dtype}"
            )
        shard = entry["shard"]
        if shard not in shards:
            data_path = f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"
            try:
                with open(data_path, "rb") as file:
                    shards[shard] = file.read()
            except FileNotFoundError:
                raise FileNotFoundError(f"No checkpoint data file at {data_path}.") from None
        data = shards[shard]
        if entry["offset"] + entry["size"] > len(data):
            raise CheckpointError(
                f"{prefix}: the data file is truncated (tensor {name!r} ends past its end)"
            )
        raw = data[entry["offset"] : entry["offset"] + entry["size"]]
        tensors[name] = (
            np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
            .reshape(entry["shape"])
            .copy()
        )
    if names is not None:
        missing = sorted(set(names) - set(tensors))
        if missing:
            raise KeyError(f"{prefix} has no tensors {missing}")
    return tensors
