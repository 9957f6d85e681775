"""The TensorFlow checkpoint reader on malformed files: each is a
`CheckpointError` naming the file and the fault, never a wrong read or an
internal exception. The files here have valid checksums (written by
tests/reliability/fuzz_tf_checkpoint.py's writer) and one field wrong, so
each reaches the check it is meant for; TensorFlow, in the tensorflow lane,
is the reference reader for the valid ones."""

import importlib.util
import os
import pathlib
import shutil
import struct

import numpy as np
import pytest

from kerastack.bert import (
    BertBackbone,
    CheckpointError,
    google_to_hf_name,
    load_google_checkpoint,
    read_tf_checkpoint,
)
from kerastack.models.tf_checkpoint import masked_crc32c
from tests.reliability.fuzz_tf_checkpoint import (
    TF_FIXTURE,
    entry_record,
    field,
    header_record,
    sample_tensors,
    table_bytes,
    write_checkpoint,
)
from tests.reliability.make_tf_partitioned_checkpoint import BIAS
from tests.reliability.make_tf_partitioned_checkpoint import PREFIX as PARTITIONED

needs_tensorflow = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None,
    reason="TensorFlow, the reference reader, is installed in the tensorflow lane only",
)

A = np.arange(6, dtype="float32").reshape(2, 3)
DATA = A.tobytes()
HEADER = (b"", header_record(1))


def record(**changes):
    """The entry of tensor `a` (A, float32 (2, 3) at offset 0), with changes."""
    values = dict(dtype=1, shape=(2, 3), shard=0, offset=0, size=24, crc=masked_crc32c(DATA))
    values.update(changes)
    return entry_record(**values)


def write(folder, entries, data=DATA, num_shards=1, **table):
    (folder / "model.ckpt.index").write_bytes(table_bytes(entries, **table))
    (folder / f"model.ckpt.data-00000-of-{num_shards:05d}").write_bytes(data)
    return str(folder / "model.ckpt")


def test_a_valid_file_reads_exactly(tmp_path):
    tensors = read_tf_checkpoint(write(tmp_path, [HEADER, (b"a", record())]))
    assert list(tensors) == ["a"] and tensors["a"].dtype == np.float32
    np.testing.assert_array_equal(tensors["a"], A)


DIMS = field(2, field(1, 2)) + field(2, field(1, 3))
CRC_VALUE = masked_crc32c(DATA)
CRC = field(6, CRC_VALUE, wire=5)
MALFORMED_ENTRIES = {
    "name not UTF-8": ([HEADER, (b"\xff\xfe", record())], r"name that is not UTF-8: b'\\xff\\xfe'"),
    "negative dim": ([HEADER, (b"a", record(shape=(-1, 3)))], r"invalid shape \(-1, 3\)"),
    "huge dims": ([HEADER, (b"a", record(shape=(2**40, 2**40)))], r"invalid shape"),
    "int64 overflowing dim": ([HEADER, (b"a", record(shape=(2**63 - 1, 0)))], r"invalid shape"),
    "33 dims": ([HEADER, (b"a", record(shape=(1,) * 33, size=4))], r"invalid shape"),
    "zero dim against size": ([HEADER, (b"a", record(shape=(37, 0)))], r"24 bytes .* \(37, 0\)"),
    "size against shape": ([HEADER, (b"a", record(size=20))], r"'a': 20 bytes at offset 0"),
    "negative offset": ([HEADER, (b"a", record(offset=-8))], r"offset -8"),
    "offset past the end": ([HEADER, (b"a", record(offset=100))], r"data file is truncated"),
    "shard = num_shards": ([HEADER, (b"a", record(shard=1))], r"in data file 1, but .* 1 data"),
    "negative shard": ([HEADER, (b"a", record(shard=-1))], r"in data file -1"),
    "0 shards": ([(b"", header_record(0)), (b"a", record())], r"header gives 0 data files"),
    "negative shards": ([(b"", header_record(-2)), (b"a", record())], r"gives -2 data files"),
    "no header": ([(b"a", record())], r"no header entry"),
    "empty table": ([], r"no header entry"),
    "duplicate key": ([HEADER, (b"a", record()), (b"a", record())], r"duplicate key b'a'"),
    "keys out of order": ([HEADER, (b"b", record()), (b"a", record())], r"out of order at b'a'"),
    "dtype as bytes": ([HEADER, (b"a", record(dtype=b"\x01"))], r"'dtype' is .* bytes, expected"),
    "shape as varint": (
        [HEADER, (b"a", field(1, 1) + field(2, 5) + field(5, 24) + CRC)],
        r"'shape' is encoded as varint, expected bytes",
    ),
    "dim as varint": (
        [HEADER, (b"a", field(1, 1) + field(2, field(2, 2)) + field(5, 24) + CRC)],
        r"'dim' is encoded as varint",
    ),
    "dim size as bytes": (
        [HEADER, (b"a", field(1, 1) + field(2, field(2, field(1, b"\x02"))) + field(5, 24) + CRC)],
        r"'size' is encoded as bytes",
    ),
    "crc as varint": (
        [HEADER, (b"a", field(1, 1) + field(2, DIMS) + field(5, 24) + field(6, 7))],
        r"'crc32c' is encoded as varint, expected fixed32",
    ),
    "size as fixed32": (
        [HEADER, (b"a", field(1, 1) + field(2, DIMS) + field(5, 24, wire=5) + CRC)],
        r"'size' is encoded as fixed32",
    ),
    "header as varint fields": ([(b"", field(3, 1)), (b"a", record())], r"'version' is .* varint"),
    "group wire type": ([HEADER, (b"a", b"\x0b")], r"wire type 3"),
    "truncated varint": ([HEADER, (b"a", b"\x08\x80")], r"truncated variable-length integer"),
    "varint over 64 bits": ([HEADER, (b"a", b"\x08" + b"\xff" * 9 + b"\x7f")], r"over 64 bits"),
    "truncated field": ([HEADER, (b"a", field(2, DIMS)[:-1])], r"truncated protocol buffer"),
    "tensor checksum": ([HEADER, (b"a", record(crc=CRC_VALUE ^ 1))], r"checksum of tensor 'a'"),
    "no tensor checksum": ([HEADER, (b"a", field(1, 1) + field(2, DIMS) + field(5, 24))], r"chec"),
    "string dtype": ([HEADER, (b"a", record(dtype=7))], r"unsupported dtype \(code 7\)"),
    "no dtype": ([HEADER, (b"a", field(2, DIMS) + field(5, 24) + CRC)], r"dtype \(code 0\)"),
    "bfloat16": ([HEADER, (b"a", record(dtype=14, size=12))], r"bfloat16"),
    "big-endian": ([(b"", field(1, 1) + field(2, 1)), (b"a", record())], r"big-endian"),
    "newer format": ([(b"", field(1, 1) + field(3, field(2, 2))), (b"a", record())], r"format 2"),
    "slices": ([HEADER, (b"a", record() + field(7, b""))], r"'a' is stored in slices"),
    "unknown rank": ([HEADER, (b"a", field(1, 1) + field(2, field(3, 1)) + CRC)], r"unknown rank"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(MALFORMED_ENTRIES))
def test_malformed_entries_are_checkpoint_errors(tmp_path, case):
    entries, message = MALFORMED_ENTRIES[case]
    prefix = write(tmp_path, entries)
    with pytest.raises(CheckpointError, match=message) as error:
        read_tf_checkpoint(prefix)
    assert str(tmp_path / "model.ckpt") in str(error.value)  # names the file


def _set_restarts(*restarts):
    def edit(block):
        count = struct.unpack_from("<I", block, len(block) - 4)[0]
        entries = block[: len(block) - 4 - 4 * count]
        return (
            entries
            + struct.pack(f"<{len(restarts)}I", *restarts)
            + struct.pack("<I", len(restarts))
        )

    return edit


MALFORMED_TABLES = {
    "compressed block": ({"block_type": 1}, r"compressed data block \(type 1\)"),
    "no restart points": ({"edit_block": _set_restarts()}, r"0 restart points"),
    "first restart not 0": ({"edit_block": _set_restarts(3)}, r"restart points \[3\]"),
    "restart inside an entry": ({"edit_block": _set_restarts(0, 3)}, r"restart point inside"),
    "restart past the entries": ({"edit_block": _set_restarts(0, 10**6)}, r"restart point past"),
    "restart count past the block": (
        {"edit_block": lambda block: block[:-4] + struct.pack("<I", 10**6)},
        r"1000000 restart points",
    ),
    "entry past the block": ({"edit_block": lambda block: b"\x00\x01\x7f" + block}, r"past the"),
    "shared bytes at a restart": (
        {"edit_block": lambda block: b"\x01" + block[1:], "restart_interval": 1},
        r"shares 1 bytes",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(MALFORMED_TABLES))
def test_malformed_tables_are_checkpoint_errors(tmp_path, case):
    table, message = MALFORMED_TABLES[case]
    prefix = write(tmp_path, [HEADER, (b"a", record()), (b"b", record())], **table)
    with pytest.raises(CheckpointError, match=message) as error:
        read_tf_checkpoint(prefix)
    assert str(tmp_path / "model.ckpt.index") in str(error.value)


def test_footer_and_block_checksums(tmp_path):
    prefix = write(tmp_path, [HEADER, (b"a", record())])
    index = tmp_path / "model.ckpt.index"
    good = index.read_bytes()
    index.write_bytes(bytes([good[0] ^ 4]) + good[1:])  # a data block's first byte
    with pytest.raises(CheckpointError, match="checksum of the data block at 0 does not match"):
        read_tf_checkpoint(prefix)
    footer = bytearray(good[-48:])
    footer[footer.index(0, 2) - 1] = 0x7F  # the index block's size (the last varint)
    index.write_bytes(good[:-48] + bytes(footer))
    with pytest.raises(CheckpointError, match=r"the index block \(127 bytes at \d+\) ends past"):
        read_tf_checkpoint(prefix)


def test_names_a_str_is_one_name_and_missing_names_are_checkpoint_errors(tmp_path):
    prefix = write(tmp_path, [HEADER, (b"a", record()), (b"ab", record())])
    assert list(read_tf_checkpoint(prefix, names="a")) == ["a"]
    assert list(read_tf_checkpoint(prefix, names={"ab"})) == ["ab"]
    assert list(read_tf_checkpoint(pathlib.Path(prefix), names=("a", "ab"))) == ["a", "ab"]
    with pytest.raises(CheckpointError, match=r"model.ckpt has no tensors named \['b', 'c'\]"):
        read_tf_checkpoint(prefix, names=["a", "b", "c"])
    for names in (5, ["a", 1], [b"a"]):
        with pytest.raises(ValueError, match="names must be a str or a collection of str"):
            read_tf_checkpoint(prefix, names=names)
    with pytest.raises(ValueError, match="must be a str or os.PathLike"):
        read_tf_checkpoint(prefix.encode())


def test_missing_data_file_is_file_not_found(tmp_path):
    prefix = write(tmp_path, [HEADER, (b"a", record())], num_shards=2)
    with pytest.raises(FileNotFoundError, match=r"No checkpoint index at .*other.index"):
        read_tf_checkpoint(prefix[: -len("model.ckpt")] + "other")
    os.remove(tmp_path / "model.ckpt.data-00000-of-00002")
    (tmp_path / "model.ckpt.index").write_bytes(
        table_bytes([(b"", header_record(1)), (b"a", record())])
    )
    with pytest.raises(FileNotFoundError, match=r"No checkpoint data file at .*-00000-of-00001"):
        read_tf_checkpoint(prefix)


def test_partitioned_variables_are_refused_by_name():
    """An unmodified TensorFlow checkpoint with a partitioned variable (its
    slices are keys starting with a zero byte, not UTF-8)."""
    with pytest.raises(CheckpointError, match="'embeddings' is stored in slices") as error:
        read_tf_checkpoint(PARTITIONED)
    assert "model.ckpt.index" in str(error.value)
    bias = read_tf_checkpoint(PARTITIONED, names="bias")["bias"]
    np.testing.assert_array_equal(bias, BIAS)


@needs_tensorflow
def test_tensorflow_reads_the_fixtures_and_the_writer_as_we_do(tmp_path):
    import tensorflow as tf

    reader = tf.train.load_checkpoint(PARTITIONED)
    assert reader.get_variable_to_shape_map() == {"embeddings": [6, 2], "bias": [3]}
    np.testing.assert_array_equal(reader.get_tensor("bias"), BIAS)
    tensors = sample_tensors()
    write_checkpoint(str(tmp_path / "own.ckpt"), tensors)
    reader = tf.train.load_checkpoint(str(tmp_path / "own.ckpt"))
    ours = read_tf_checkpoint(str(tmp_path / "own.ckpt"))
    assert set(reader.get_variable_to_shape_map()) == set(tensors) == set(ours)
    for name, value in tensors.items():
        theirs = np.asarray(reader.get_tensor(name))
        for other in (theirs, ours[name]):
            assert other.dtype == value.dtype and other.shape == value.shape
            assert other.tobytes() == value.tobytes()


def test_two_names_for_one_weight_are_refused(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    shutil.copy(os.path.join(TF_FIXTURE, "bert_config.json"), folder)
    tensors = read_tf_checkpoint(TF_FIXTURE)
    tensors["embeddings/word_embeddings"] = tensors["bert/embeddings/word_embeddings"] + 1
    write_checkpoint(str(folder / "bert_model.ckpt"), tensors, num_shards=1)
    backbone = BertBackbone.from_config_file(str(folder))
    before = [np.array(w) for w in backbone.get_weights()]
    with pytest.raises(CheckpointError, match="'bert/embeddings/word_embeddings' and "):
        load_google_checkpoint(backbone, str(folder))
    for old, new in zip(before, backbone.get_weights(), strict=True):
        np.testing.assert_array_equal(old, np.array(new))
    assert google_to_hf_name("bert") == ("", False)  # no IndexError on odd names
