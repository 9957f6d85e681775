"""Mutation fuzz of the TensorFlow checkpoint reader (`read_tf_checkpoint`).

Two checkpoints are mutated: one written by TensorFlow (the tiny Google BERT
fixture) and one written here (several dtypes, two data files, several
table blocks). Each case applies a few seeded mutations (bit flips, byte
sets, truncations, insertions, deletions) to the index or a data file and
reads the result. Every outcome must be a documented error (`ValueError`,
including `CheckpointError`, or `OSError`) or a read identical to the
original's, bit for bit, names included; anything else is counted.

Long runs:

    python -m tests.reliability.fuzz_tf_checkpoint --cases 20000 --summary fuzz_tf.json

The writer here (`write_checkpoint`, `table_bytes`, `entry_record`) writes
valid files with valid checksums, so tests can also build well-checksummed
files that are wrong in one field only.
"""

import argparse
import json
import os
import random
import struct
import tempfile
import time

import numpy as np

from kerastack.bert import CheckpointError, read_tf_checkpoint
from kerastack.models.tf_checkpoint import masked_crc32c

TF_FIXTURE = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "conformance", "fixtures", "tiny_google"
)
_MAGIC = 0xDB4775248B80FB57
DTYPE_CODES = {"float32": 1, "float64": 2, "int32": 3, "uint8": 4, "int8": 6, "int64": 9,
               "bool": 10, "float16": 19}  # fmt: skip


def varint(value):
    """Protocol buffer / LevelDB varint encoding of a non-negative int."""
    value &= (1 << 64) - 1  # negative ints as protocol buffers write them
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, value, wire=None):
    """One protocol buffer field: an int as a varint, bytes as a length-delimited field."""
    if wire == 5:
        return varint(number << 3 | 5) + struct.pack("<I", value)
    if isinstance(value, bytes):
        return varint(number << 3 | 2) + varint(len(value)) + value
    return varint(number << 3) + varint(value)


def entry_record(dtype, shape, shard, offset, size, crc):
    """A serialized BundleEntryProto."""
    dims = b"".join(field(2, field(1, dim)) for dim in shape)
    return (
        field(1, dtype)
        + field(2, dims)
        + (field(3, shard) if shard else b"")
        + (field(4, offset) if offset else b"")
        + field(5, size)
        + field(6, crc, wire=5)
    )


def header_record(num_shards):
    """A serialized BundleHeaderProto (little-endian, version 1)."""
    return field(1, num_shards) + field(3, field(1, 1))


def _block_bytes(entries, restart_interval):
    out, restarts, previous = bytearray(), [], b""
    for i, (key, value) in enumerate(entries):
        shared = 0
        if i % restart_interval == 0:
            restarts.append(len(out))
        else:
            while shared < min(len(key), len(previous)) and key[shared] == previous[shared]:
                shared += 1
        out += varint(shared) + varint(len(key) - shared) + varint(len(value))
        out += key[shared:] + value
        previous = key
    restarts = restarts or [0]
    out += struct.pack(f"<{len(restarts)}I", *restarts) + struct.pack("<I", len(restarts))
    return bytes(out)


def table_bytes(entries, block_entries=4, restart_interval=2, block_type=0, edit_block=None):
    """An SSTable (LevelDB layout, uncompressed) of `entries`, `[(key, value)]`
    written in the given order, `block_entries` per data block. Tests may
    give another block type byte, or `edit_block(bytes) -> bytes` to change
    each data block before its checksum is computed."""
    out, index = bytearray(), []

    def add_block(block, block_type=0):
        handle = varint(len(out)) + varint(len(block))
        trailer = bytes([block_type])
        out.extend(block + trailer + struct.pack("<I", masked_crc32c(block + trailer)))
        return handle

    for start in range(0, len(entries), block_entries):
        chunk = entries[start : start + block_entries]
        block = _block_bytes(chunk, restart_interval)
        block = edit_block(block) if edit_block else block
        index.append((chunk[-1][0], add_block(block, block_type)))
    meta = add_block(_block_bytes([], 1))
    index_handle = add_block(_block_bytes(index, 1))
    footer = (meta + index_handle).ljust(40, b"\x00") + struct.pack("<Q", _MAGIC)
    return bytes(out + footer)


def checkpoint_entries(tensors, num_shards=2):
    """`(entries, shards)`: the index's `[(key, record)]`, header first, and
    the data files' bytes of a checkpoint holding `{name: array}`."""
    shards = [bytearray() for _ in range(num_shards)]
    entries = [(b"", header_record(num_shards))]
    for i, name in enumerate(sorted(tensors)):
        value = np.asarray(tensors[name])
        raw = value.astype(value.dtype.newbyteorder("<")).tobytes()
        shard = i % num_shards
        record = entry_record(
            DTYPE_CODES[value.dtype.name], value.shape, shard, len(shards[shard]), len(raw),
            masked_crc32c(raw),
        )  # fmt: skip
        shards[shard] += raw
        entries.append((name.encode("utf-8"), record))
    return sorted(entries), [bytes(data) for data in shards]


def write_checkpoint(prefix, tensors, num_shards=2):
    """Write `{name: array}` as a TensorFlow checkpoint at `prefix`, tensors
    spread over `num_shards` data files; returns `{path: bytes}` written."""
    entries, shards = checkpoint_entries(tensors, num_shards)
    files = {f"{prefix}.index": table_bytes(entries)}
    for shard, data in enumerate(shards):
        files[f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"] = bytes(data)
    for path, data in files.items():
        with open(path, "wb") as file:
            file.write(data)
    return files


def sample_tensors():
    """The tensors of the checkpoint written here: several dtypes and shapes,
    a scalar, an empty tensor and a non-ASCII name."""
    rng = np.random.default_rng(0)
    return {
        "bert/embeddings/word_embeddings": rng.standard_normal((13, 8)).astype("float32"),
        "bert/encoder/layer_0/attention/self/query/kernel": rng.standard_normal((8, 8)).astype(
            "float32"
        ),
        "bert/encoder/layer_0/attention/self/query/bias": rng.standard_normal(8).astype("float32"),
        "bert/pooler/dense/kernel": rng.standard_normal((8, 8)).astype("float16"),
        "cls/predictions/output_bias": rng.standard_normal(13).astype("float64"),
        "global_step": np.array(1000, "int64"),
        "ids": np.arange(-3, 9, dtype="int32").reshape(3, 4),
        "mask": np.array([True, False, True]),
        "bytes": np.arange(7, dtype="uint8"),
        "empty": np.zeros((0, 3), "float32"),
        "größe": np.array([1.5, -2.5], "float32"),
    }


def mutate(rng, data):
    """`data` (bytes) with one seeded mutation; returns `(bytes, description)`."""
    data = bytearray(data)
    kind = rng.choice(["flip", "set", "truncate", "insert", "delete", "flip", "set"])
    position = rng.randrange(len(data) + 1) if data else 0
    # Half the cases aim at the end of the file (footer, index block, last tensor).
    if data and rng.random() < 0.5:
        position = max(0, len(data) - 1 - rng.randrange(min(len(data), 120)))
    if kind == "flip" and data:
        position = min(position, len(data) - 1)
        data[position] ^= 1 << rng.randrange(8)
    elif kind == "set" and data:
        position = min(position, len(data) - 1)
        data[position] = rng.choice([0, 0xFF, 0x80, 0x7F, 1, rng.randrange(256)])
    elif kind == "truncate":
        del data[position:]
    elif kind == "insert":
        data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif kind == "delete":
        del data[position : position + rng.randint(1, 8)]
    return bytes(data), f"{kind}@{position}"


# What a CheckpointError is about, from its message: the summary counts each.
_REASONS = [
    "checksum", "bad magic number", "too short", "compressed", "restart point", "shares",
    "ends past", "data file is truncated", "truncated protocol buffer",
    "variable-length integer", "wire type", "encoded as",
    "out of order", "duplicate key", "past its index entry", "handle", "not UTF-8",
    "no header", "data files", "big-endian", "bundle format", "slices", "dtype", "bfloat16",
    "invalid shape", "unknown rank", "bytes at offset", "in data file", "no tensors named",
]  # fmt: skip


def _reason(error):
    message = str(error)
    return next((reason for reason in _REASONS if reason in message), type(error).__name__)


def _same(a, b):
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and a[k].tobytes() == b[k].tobytes()
        for k in a
    )


def _bases(folder):
    """`[(prefix, {path: bytes}, names or None)]`: the checkpoints to mutate."""
    own = write_checkpoint(os.path.join(folder, "own.ckpt"), sample_tensors())
    tf_prefix = os.path.join(TF_FIXTURE, "bert_model.ckpt")
    tf_files = {}
    for suffix in (".index", ".data-00000-of-00001"):
        with open(tf_prefix + suffix, "rb") as file:
            tf_files[os.path.join(folder, "tf.ckpt" + suffix)] = file.read()
    subset = ["bert/pooler/dense/kernel", "global_step", "größe"]
    return [
        (os.path.join(folder, "own.ckpt"), own, None),
        (os.path.join(folder, "own.ckpt"), own, subset),
        (os.path.join(folder, "tf.ckpt"), tf_files, None),
    ]


def run(cases, seed=0):
    """Mutate and read `cases` times; returns a summary dict of the outcomes."""
    rng = random.Random(seed)
    counts = {"cases": cases, "errors": {}, "reasons": {}, "identical": 0, "silent_wrong": 0}
    counts["other"] = 0
    examples = {"silent_wrong": [], "other": []}
    by_target = {"index": 0, "data": 0}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        bases = _bases(folder)
        originals = []
        for prefix, files, names in bases:
            for path, data in files.items():
                with open(path, "wb") as file:
                    file.write(data)
            originals.append(read_tf_checkpoint(prefix, names))
        for case in range(cases):
            which = case % len(bases)
            prefix, files, names = bases[which]
            target = rng.choice(sorted(files))
            mutated, description = files[target], []
            for _ in range(1 if rng.random() < 0.7 else rng.randint(2, 4)):
                mutated, what = mutate(rng, mutated)
                description.append(what)
            by_target["index" if target.endswith(".index") else "data"] += 1
            with open(target, "wb") as file:
                file.write(mutated)
            label = f"case {case}: {os.path.basename(target)} {' '.join(description)}"
            try:
                result = read_tf_checkpoint(prefix, names)
            except (ValueError, OSError) as error:
                name = type(error).__name__
                counts["errors"][name] = counts["errors"].get(name, 0) + 1
                reason = _reason(error)
                counts["reasons"][reason] = counts["reasons"].get(reason, 0) + 1
                if not isinstance(error, (CheckpointError, OSError)):
                    examples.setdefault("plain_value_error", []).append(f"{label}: {error}")
            except Exception as error:  # noqa: BLE001 (counted and reported)
                counts["other"] += 1
                examples["other"].append(f"{label}: {type(error).__name__}: {error}")
            else:
                if _same(result, originals[which]):
                    counts["identical"] += 1
                else:
                    counts["silent_wrong"] += 1
                    examples["silent_wrong"].append(label)
            finally:
                with open(target, "wb") as file:
                    file.write(files[target])
    counts["mutated_files"] = by_target
    counts["seconds"] = round(time.perf_counter() - start, 1)
    counts["examples"] = {key: value[:20] for key, value in examples.items()}
    return counts


def structured_run(cases, seed=0):
    """Mutate the index's records and keys (not its bytes), then write it
    with valid checksums, `cases` times: the reader's own checks, not the
    checksums, must catch each fault.

    A read may succeed and differ from the original here (a renamed key, a
    float32 entry retyped as int32 over the same bytes: TensorFlow reads such
    a file the same way), but every array read must hold exactly the bytes
    of one of the original tensors: `foreign` counts any that does not.
    """
    rng = random.Random(seed)
    counts = {"cases": cases, "errors": {}, "reasons": {}, "identical": 0, "reinterpreted": 0}
    counts.update(foreign=0, other=0)
    examples = {"foreign": [], "other": []}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        prefix = os.path.join(folder, "own.ckpt")
        write_checkpoint(prefix, sample_tensors())
        entries, _ = checkpoint_entries(sample_tensors())
        original = read_tf_checkpoint(prefix)
        known = {value.tobytes() for value in original.values()}
        for case in range(cases):
            mutated = list(entries)
            what = rng.choice(["record", "record", "record", "key", "header", "order"])
            i = rng.randrange(1, len(mutated))
            if what == "record":
                value, label = mutated[i][1], ""
                for _ in range(rng.randint(1, 3)):
                    value, step = mutate(rng, value)
                    label += step + " "
                mutated[i] = (mutated[i][0], value)
            elif what == "key":
                key, label = mutate(rng, mutated[i][0])
                mutated[i] = (key, mutated[i][1])
            elif what == "header":
                value, label = mutate(rng, mutated[0][1])
                mutated[0] = (b"", value)
            else:
                j = rng.randrange(len(mutated))
                mutated[i], mutated[j] = mutated[j], mutated[i]
                label = f"swap {i} {j}"
            with open(f"{prefix}.index", "wb") as file:
                file.write(table_bytes(mutated))
            label = f"case {case}: {what} {i} {label}"
            try:
                result = read_tf_checkpoint(prefix)
            except (ValueError, OSError) as error:
                name = type(error).__name__
                counts["errors"][name] = counts["errors"].get(name, 0) + 1
                reason = _reason(error)
                counts["reasons"][reason] = counts["reasons"].get(reason, 0) + 1
            except Exception as error:  # noqa: BLE001 (counted and reported)
                counts["other"] += 1
                examples["other"].append(f"{label}: {type(error).__name__}: {error}")
            else:
                if _same(result, original):
                    counts["identical"] += 1
                elif all(value.tobytes() in known for value in result.values()):
                    counts["reinterpreted"] += 1
                else:
                    counts["foreign"] += 1
                    examples["foreign"].append(label)
    counts["seconds"] = round(time.perf_counter() - start, 1)
    counts["examples"] = {key: value[:20] for key, value in examples.items()}
    return counts


def _markdown(summary, seed):
    raw, structured = summary["raw"], summary["structured"]
    rows = [f"| {k} | {v} |" for k, v in sorted(raw["errors"].items())]
    rows += [
        f"| read identical to the original | {raw['identical']} |",
        f"| silent wrong read | {raw['silent_wrong']} |",
        f"| other exception | {raw['other']} |",
    ]
    srows = [f"| {k} | {v} |" for k, v in sorted(structured["errors"].items())]
    srows += [
        f"| read identical to the original | {structured['identical']} |",
        f"| read of the same bytes, renamed or retyped | {structured['reinterpreted']} |",
        f"| read of bytes no tensor holds | {structured['foreign']} |",
        f"| other exception | {structured['other']} |",
    ]
    for part, table_rows in ((raw, rows), (structured, srows)):
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(part["reasons"].items()))
        table_rows.append(f"| the errors, by what they name | {reasons} |")
    table = "| outcome | cases |\n|---|---|\n"
    return (
        f"# TF checkpoint reader fuzz (seed {seed})\n\n"
        f"## Byte mutations of the files\n\n{raw['cases']} mutated checkpoints in "
        f"{raw['seconds']} s (index {raw['mutated_files']['index']}, "
        f"data {raw['mutated_files']['data']}).\n\n{table}" + "\n".join(rows) + "\n\n"
        f"## Index records mutated, checksums valid\n\n{structured['cases']} cases in "
        f"{structured['seconds']} s.\n\n{table}" + "\n".join(srows) + "\n"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=20000, help="byte-mutated checkpoints")
    parser.add_argument("--structured-cases", type=int, help="record mutations (default: cases)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--summary", help="write the summary here (.json, or .md for markdown)")
    args = parser.parse_args()
    structured_cases = args.cases if args.structured_cases is None else args.structured_cases
    summary = {
        "raw": run(args.cases, args.seed),
        "structured": structured_run(structured_cases, args.seed),
    }
    text = json.dumps(summary, indent=2, ensure_ascii=False)
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as file:
            file.write(_markdown(summary, args.seed) if args.summary.endswith(".md") else text)
    print(text)
    bad = summary["raw"]["silent_wrong"] + summary["raw"]["other"]
    return 1 if bad + summary["structured"]["foreign"] + summary["structured"]["other"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
