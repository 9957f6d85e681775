"""Read TensorFlow checkpoints (Google's original BERT files) without TensorFlow:
NumPy for the tensors, google-crc32c (C) for their checksums.

A checkpoint `prefix` is two kinds of file: `prefix.index`, a sorted table
(LevelDB's SSTable layout) from tensor name to a small protocol-buffer
record (dtype, shape, which data file, offset, size, checksum), and
`prefix.data-00000-of-0000N`, the tensors' bytes. No maintained library
reads them without TensorFlow; this reads exactly the parts TensorFlow
writes for a checkpoint (uncompressed blocks, whole tensors) and checks
them as TensorFlow does: the masked CRC-32C of every table block and of
every tensor's bytes, and every length, offset and key order. Anything
else is a `CheckpointError` naming the file and what is wrong.
"""

import os
import struct

import google_crc32c
import numpy as np

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48  # two block handles, padded to 40 bytes, then the magic number
_BLOCK_TRAILER_SIZE = 5  # compression type byte + masked crc32c of block and type
_MAX_DIMS = 32  # NumPy 1's limit; TensorFlow's own checkpoints stay far below it
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
# Protocol buffer wire types.
_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5
_WIRE_NAMES = {_VARINT: "varint", _FIXED64: "fixed64", _BYTES: "bytes", _FIXED32: "fixed32"}


class CheckpointError(ValueError):
    """A checkpoint file that is missing, truncated, corrupt or of a kind
    this reader does not handle. The message names the file and the fault.

    Example:

    >>> import os, tempfile
    >>> prefix = os.path.join(tempfile.mkdtemp(), "bert_model.ckpt")
    >>> with open(prefix + ".index", "wb") as file:
    ...     _ = file.write(b"not a checkpoint index")
    >>> try:
    ...     read_tf_checkpoint(prefix)
    ... except CheckpointError as error:  # a ValueError too
    ...     print(str(error).replace(prefix, "bert_model.ckpt"))
    bert_model.ckpt.index is too short to be a checkpoint index
    """


def masked_crc32c(data):
    """The CRC-32C of `data` (bytes or a NumPy array), masked as LevelDB and
    TensorFlow store it in checkpoint files.

    Example:

    >>> hex(masked_crc32c(b""))
    '0xa282ead8'
    >>> masked_crc32c(np.zeros(3, "float32")) == masked_crc32c(bytes(12))
    True
    """
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(data, position, what):
    result, shift = 0, 0
    while True:
        if position >= len(data):
            raise CheckpointError(f"{what}: truncated variable-length integer")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if result >> 64:
                raise CheckpointError(f"{what}: variable-length integer over 64 bits")
            return result, position
        shift += 7
        if shift > 63:
            raise CheckpointError(f"{what}: malformed variable-length integer")


def _message(data, schema, what):
    """`{field name: value}` of a serialized protocol buffer message.

    `schema` maps field numbers to `(name, wire type)`; a known field with
    another wire type is an error, unknown fields are skipped (as protocol
    buffers do) and a repeated scalar keeps its last value. Bytes fields named
    with a trailing `[]` are repeated and collected in a list.
    """
    fields, position = {}, 0
    while position < len(data):
        key, position = _varint(data, position, what)
        number, wire_type = key >> 3, key & 7
        if wire_type == _VARINT:
            value, position = _varint(data, position, what)
        elif wire_type == _FIXED64:
            value, position = data[position : position + 8], position + 8
        elif wire_type == _BYTES:
            length, position = _varint(data, position, what)
            value, position = data[position : position + length], position + length
        elif wire_type == _FIXED32:
            value, position = data[position : position + 4], position + 4
        else:
            raise CheckpointError(f"{what}: unsupported protocol buffer wire type {wire_type}")
        if position > len(data):
            raise CheckpointError(f"{what}: truncated protocol buffer record")
        if number not in schema:
            continue
        name, expected = schema[number]
        if wire_type != expected:
            raise CheckpointError(
                f"{what}: field {name.removesuffix('[]')!r} is encoded as "
                f"{_WIRE_NAMES[wire_type]}, expected {_WIRE_NAMES[expected]}"
            )
        if wire_type == _FIXED32:
            value = struct.unpack("<I", value)[0]
        if name.endswith("[]"):
            fields.setdefault(name[:-2], []).append(value)
        else:
            fields[name] = value
    return fields


def _signed(value, bits):
    """A varint-decoded value read back as the signed integer TensorFlow wrote."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _block(data, handle, path, what):
    """Check the trailer of the table block at `handle` and return the block."""
    offset, size = handle
    end = offset + size
    if end + _BLOCK_TRAILER_SIZE > len(data) - _FOOTER_SIZE:
        raise CheckpointError(
            f"{path} is truncated or corrupt: the {what} block ({size} bytes at {offset}) "
            f"ends past the table's end ({len(data) - _FOOTER_SIZE} bytes)"
        )
    stored = struct.unpack_from("<I", data, end + 1)[0]
    if masked_crc32c(data[offset : end + 1]) != stored:
        raise CheckpointError(
            f"{path} is corrupt: the checksum of the {what} block at {offset} does not match"
        )
    if data[end] != 0:
        raise CheckpointError(
            f"{path} has a compressed {what} block (type {data[end]}); TensorFlow writes "
            "checkpoint indexes uncompressed"
        )
    return data[offset:end]


def _block_entries(block, path, what):
    """`(key, value)` pairs of one table block, in order."""
    malformed = f"{path} has a malformed {what} block"
    if len(block) < 4:
        raise CheckpointError(f"{malformed} (only {len(block)} bytes)")
    count = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * count
    if count == 0 or limit < 0:
        raise CheckpointError(f"{malformed} ({count} restart points)")
    restarts = struct.unpack_from(f"<{count}I", block, limit)
    if restarts[0] != 0 or list(restarts) != sorted(set(restarts)):
        raise CheckpointError(f"{malformed} (restart points {list(restarts[:8])}...)")
    if restarts[-1] >= max(limit, 1):
        raise CheckpointError(f"{malformed} (a restart point past its entries)")
    restarts, starts = set(restarts), set()
    position, key = 0, b""
    while position < limit:
        start = position
        starts.add(start)
        shared, position = _varint(block, position, malformed)
        unshared, position = _varint(block, position, malformed)
        value_length, position = _varint(block, position, malformed)
        if shared > len(key) or (start in restarts and shared):
            raise CheckpointError(f"{malformed} (an entry shares {shared} bytes of {key!r})")
        key = key[:shared] + block[position : position + unshared]
        value = block[position + unshared : position + unshared + value_length]
        position += unshared + value_length
        if position > limit:
            raise CheckpointError(f"{malformed} (an entry ends past the block's end)")
        yield key, value
    if limit and not restarts <= starts:
        raise CheckpointError(f"{malformed} (a restart point inside an entry)")


def _block_handle(value, path, what):
    offset, position = _varint(value, 0, f"{path}: {what} handle")
    size, position = _varint(value, position, f"{path}: {what} handle")
    return offset, size, position


def _read_table(path):
    """`[(key, value)]` of an SSTable file, with keys strictly increasing."""
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
    meta_offset, meta_size, position = _block_handle(footer[:40], path, "metaindex")
    index_offset, index_size, _ = _block_handle(footer[position:40], path, "index")
    _block(data, (meta_offset, meta_size), path, "metaindex")
    index = _block(data, (index_offset, index_size), path, "index")
    entries, previous_separator = [], None
    for separator, handle in _block_entries(index, path, "index"):
        if previous_separator is not None and separator <= previous_separator:
            raise CheckpointError(f"{path} has index keys out of order at {separator!r}")
        previous_separator = separator
        offset, size, used = _block_handle(handle, path, "data block")
        if used != len(handle):
            raise CheckpointError(f"{path} has a malformed data block handle")
        block = _block(data, (offset, size), path, "data")
        for key, value in _block_entries(block, path, "data"):
            if entries and key <= entries[-1][0]:
                problem = "duplicate key" if key == entries[-1][0] else "keys out of order at"
                raise CheckpointError(f"{path} is corrupt: {problem} {key!r}")
            entries.append((key, value))
        if entries and entries[-1][0] > separator:
            raise CheckpointError(
                f"{path} is corrupt: key {entries[-1][0]!r} is past its index entry {separator!r}"
            )
    return entries


_HEADER = {1: ("num_shards", _VARINT), 2: ("endianness", _VARINT), 3: ("version", _BYTES)}
_VERSION = {1: ("producer", _VARINT), 2: ("min_consumer", _VARINT)}
_ENTRY = {
    1: ("dtype", _VARINT),
    2: ("shape", _BYTES),
    3: ("shard", _VARINT),
    4: ("offset", _VARINT),
    5: ("size", _VARINT),
    6: ("crc32c", _FIXED32),
    7: ("slices[]", _BYTES),
}
_SHAPE = {2: ("dim[]", _BYTES), 3: ("unknown_rank", _VARINT)}
_DIM = {1: ("size", _VARINT)}


def _header(record, path):
    """The number of data files, from the table's header entry (key "")."""
    what = f"{path}: header"
    header = _message(record, _HEADER, what)
    num_shards = _signed(header.get("num_shards", 0), 32)
    if num_shards < 1:
        raise CheckpointError(f"{what} gives {num_shards} data files; expected at least 1")
    if header.get("endianness", 0) != 0:
        raise CheckpointError(f"{path} is big-endian; only little-endian checkpoints are read")
    version = _message(header.get("version", b""), _VERSION, what)
    if version.get("min_consumer", 0) > 1:
        raise CheckpointError(
            f"{what}: written in bundle format {version['min_consumer']}, newer than this "
            "reader's (1)"
        )
    return num_shards


def _entry(record, name, path, num_shards):
    """`(dtype, shape, shard, offset, size, crc)` of one tensor, all checked."""
    what = f"{path}: tensor {name!r}"
    entry = _message(record, _ENTRY, what)
    if "slices" in entry:
        raise CheckpointError(
            f"{what} is stored in slices (a partitioned variable), which are not supported"
        )
    code = entry.get("dtype", 0)
    dtype = _DTYPES.get(code)
    if dtype is None:
        raise CheckpointError(f"{what} has an unsupported dtype (code {code})")
    if dtype == "bfloat16":
        raise CheckpointError(f"{what} is bfloat16, which NumPy cannot hold")
    shape_fields = _message(entry.get("shape", b""), _SHAPE, what)
    if shape_fields.get("unknown_rank"):
        raise CheckpointError(f"{what} has a shape of unknown rank")
    shape = tuple(
        _signed(_message(dim, _DIM, what).get("size", 0), 64) for dim in shape_fields.get("dim", [])
    )
    dtype = np.dtype(dtype).newbyteorder("<")
    nonzero = int(np.prod([size for size in shape if size], dtype=object)) * dtype.itemsize
    if len(shape) > _MAX_DIMS or any(size < 0 for size in shape) or nonzero >= 2**63:
        raise CheckpointError(f"{what} has an invalid shape {shape}")
    shard = _signed(entry.get("shard", 0), 32)
    if not 0 <= shard < num_shards:
        raise CheckpointError(
            f"{what} is in data file {shard}, but the checkpoint has {num_shards} data files"
        )
    offset, size = _signed(entry.get("offset", 0), 64), _signed(entry.get("size", 0), 64)
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if offset < 0 or size != expected:
        raise CheckpointError(
            f"{what}: {size} bytes at offset {offset} for shape {shape} {dtype.name} "
            f"({expected} bytes)"
        )
    return dtype, shape, shard, offset, size, entry.get("crc32c", 0)


def _read_tensor(file, data_path, name, dtype, shape, offset, size, crc):
    """The tensor's bytes at `offset`, checked against their CRC-32C."""
    file_size = os.fstat(file.fileno()).st_size
    if offset + size > file_size:
        raise CheckpointError(
            f"{data_path}: the data file is truncated (tensor {name!r} ends at byte "
            f"{offset + size}, past its end at {file_size})"
        )
    raw = np.empty(size, np.uint8)
    file.seek(offset)
    if file.readinto(raw) != size:
        raise CheckpointError(f"{data_path}: the data file is truncated at tensor {name!r}")
    if masked_crc32c(raw) != crc:
        raise CheckpointError(
            f"{data_path} is corrupt: the checksum of tensor {name!r} does not match"
        )
    return raw.view(dtype).reshape(shape)


def checkpoint_prefix(path):
    """The prefix of the checkpoint at `path`: a prefix, its `.index` file,
    or a folder with one checkpoint (`bert_model.ckpt.index`, ...).

    Example:

    >>> checkpoint_prefix("uncased_L-12_H-768_A-12/bert_model.ckpt.index")
    'uncased_L-12_H-768_A-12/bert_model.ckpt'
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> open(os.path.join(folder, "bert_model.ckpt.index"), "wb").close()
    >>> checkpoint_prefix(folder) == os.path.join(folder, "bert_model.ckpt")
    True
    """
    path = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(path, str):
        raise ValueError(f"A checkpoint path must be a str or os.PathLike, got {path!r}.")
    if os.path.isdir(path):
        indexes = sorted(name for name in os.listdir(path) if name.endswith(".index"))
        if len(indexes) != 1:
            raise FileNotFoundError(
                f"Expected one checkpoint (*.index) in {path}, found {indexes or 'none'}."
            )
        return os.path.join(path, indexes[0][: -len(".index")])
    return path[: -len(".index")] if path.endswith(".index") else path


def _wanted(names):
    if names is None:
        return None
    if isinstance(names, str):
        return {names}
    try:
        wanted = set(names)
    except TypeError:
        raise ValueError(f"names must be a str or a collection of str, got {names!r}") from None
    bad = [name for name in wanted if not isinstance(name, str)]
    if bad:
        raise ValueError(f"names must be a str or a collection of str; got {bad[0]!r} in it")
    return wanted


def read_tf_checkpoint(path, names=None):
    """`{name: array}` of a TensorFlow checkpoint, read without TensorFlow.

    Every table block and every tensor read is checked against its stored
    CRC-32C, as TensorFlow does; only the tensors asked for are read from
    the data files.

    Args:
        path: the checkpoint prefix (`.../bert_model.ckpt`), its `.index`
            file, or the folder holding it.
        names: optional name (a str) or collection of names to read
            (default: all).

    Returns:
        `{name: numpy array}`, in the checkpoint's (sorted) name order.

    Raises:
        CheckpointError: the files are corrupt, truncated or of a kind this
            reader does not handle (compressed blocks, partitioned variables,
            bfloat16 or string tensors, big-endian files), or a name asked
            for is not in the checkpoint; the message names the file.
        FileNotFoundError: the index or a data file is missing.

    Example:

    A Google release reads as
    `read_tf_checkpoint("uncased_L-12_H-768_A-12/bert_model.ckpt")`. Here a
    checkpoint of one tensor is written byte by byte, as TensorFlow lays it
    out: its data file, and its index (table blocks, each with a restart
    point, a type byte and a checksum; then the footer).

    >>> import os, struct, tempfile
    >>> from kerastack.models.tf_checkpoint import masked_crc32c  # LevelDB's masked CRC-32C
    >>> def block(entries):  # one table block of (key, value) entries
    ...     data = b"".join(bytes([0, len(k), len(v)]) + k + v for k, v in entries)
    ...     data += struct.pack("<II", 0, 1) + b"\\0"  # one restart point; uncompressed
    ...     return data + struct.pack("<I", masked_crc32c(data))
    >>> raw = np.arange(3, dtype="<f4").tobytes()
    >>> # The tensor's entry: dtype float32, shape (3,), 12 bytes, their checksum.
    >>> entry = bytes.fromhex("0801 1204 12020803 280c 35") + struct.pack("<I", masked_crc32c(raw))
    >>> data = block([(b"", b"\\x08\\x01"), (b"bias", entry)])  # header first: one data file
    >>> meta, index = block([]), block([(b"bias", bytes([0, len(data) - 5]))])
    >>> handles = bytes([len(data), len(meta) - 5, len(data) + len(meta), len(index) - 5])
    >>> footer = handles.ljust(40, b"\\0") + struct.pack("<Q", 0xDB4775248B80FB57)
    >>> prefix = os.path.join(tempfile.mkdtemp(), "bert_model.ckpt")
    >>> with open(prefix + ".index", "wb") as file:
    ...     _ = file.write(data + meta + index + footer)
    >>> with open(prefix + ".data-00000-of-00001", "wb") as file:
    ...     _ = file.write(raw)
    >>> read_tf_checkpoint(os.path.dirname(prefix), names="bias")
    {'bias': array([0., 1., 2.], dtype=float32)}
    """
    wanted = _wanted(names)
    prefix = checkpoint_prefix(path)
    index_path = prefix + ".index"
    entries = _read_table(index_path)
    if not entries or entries[0][0] != b"":
        raise CheckpointError(f"{index_path} has no header entry (the empty key)")
    num_shards = _header(entries[0][1], index_path)
    found = {}
    for key, record in entries[1:]:
        if key.startswith(b"\x00"):
            continue  # one slice of a partitioned variable: its full entry says so below
        try:
            name = key.decode("utf-8")
        except UnicodeDecodeError as error:
            raise CheckpointError(
                f"{index_path} has a tensor name that is not UTF-8: {key!r}"
            ) from error
        if wanted is None or name in wanted:
            found[name] = _entry(record, name, index_path, num_shards)
    if wanted is not None:
        missing = sorted(wanted - set(found))
        if missing:
            raise CheckpointError(f"{prefix} has no tensors named {missing}")
    tensors, files = {}, {}
    try:
        for name, (dtype, shape, shard, offset, size, crc) in found.items():
            data_path = f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"
            if shard not in files:
                try:
                    files[shard] = open(data_path, "rb")  # noqa: SIM115 (closed below)
                except FileNotFoundError:
                    raise FileNotFoundError(f"No checkpoint data file at {data_path}.") from None
            tensors[name] = _read_tensor(
                files[shard], data_path, name, dtype, shape, offset, size, crc
            )
    finally:
        for file in files.values():
            file.close()
    return tensors
