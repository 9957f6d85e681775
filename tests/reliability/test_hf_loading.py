"""HF checkpoint loading of every family (BERT, RoBERTa, ALBERT, GPT-2) and
`save_hf_weights` under bad input: every outcome is the correct load (each
weight holds what the file holds, in kerastack's layout) or a documented
error naming the file and the tensors at fault, with the model's weights
unchanged; save failures leave the old files and no temporary ones.

Oracles: for tensors dicts, this file's own account of what each change
does; for mutated files, the safetensors library's own reader (what the
file holds), against which kerastack's reader is compared.
"""

import functools
import json
import os
import struct
import tempfile

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from safetensors.numpy import load_file, save_file

from kerastack.bert import (
    AlbertBackbone,
    BertBackbone,
    Layout,
    RobertaBackbone,
    assign_hf_tensors,
    load_hf_weights,
    read_safetensors,
    save_hf_weights,
    weight_table,
)
from kerastack.core import keras, ops
from kerastack.gpt import FusedWeights, GPT2Backbone, load_gpt2_weights
from tests.reliability.conftest import FUZZ_CASES

# Keras's torch backend warns on every read of a variable as NumPy.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SMALL = {
    "vocabulary_size": 20,
    "num_layers": 2,
    "num_heads": 2,
    "hidden_dim": 8,
    "intermediate_dim": 12,
    "max_sequence_length": 10,
    "dropout": 0.0,
}
# family -> (model class, prefix of HF's task models, loader)
FAMILIES = {
    "bert": (BertBackbone, "bert.", load_hf_weights),
    "roberta": (RobertaBackbone, "roberta.", load_hf_weights),
    "albert": (AlbertBackbone, "albert.", load_hf_weights),
    "gpt2": (GPT2Backbone, "transformer.", load_gpt2_weights),
}
NOT_FLOATS = ["int8", "uint8", "int16", "int32", "int64", "uint32", "bool"]


@functools.cache
def model(family):
    return FAMILIES[family][0](**SMALL)


def table(family):
    backbone = model(family)
    if hasattr(backbone, "hf_weight_table"):
        return backbone.hf_weight_table()
    return weight_table(backbone)


def to_numpy(weight):
    if isinstance(weight, FusedWeights):
        return weight.numpy()
    return np.asarray(ops.convert_to_numpy(weight))


def weights(family):
    return [np.array(ops.convert_to_numpy(w)) for w in model(family).weights]


def hf_tensors(family, seed=0):
    """`{hf_name: array}` of random weights of the family's small model, in
    HF's layout and names (without the task models' prefix)."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for weight, name, layout in table(family):
        shape = layout.to_hf(to_numpy(weight)).shape
        tensors[name] = rng.normal(0, 0.5, shape).astype("float32")
    return tensors


def held(family):
    """`{hf_name: array}` the model's weights hold, in HF's layout."""
    return {name: layout.to_hf(to_numpy(w)) for w, name, layout in table(family)}


def load(family, tensors, folder):
    path = os.path.join(folder, "model.safetensors")
    save_file(tensors, path)
    return FAMILIES[family][2](model(family), folder)


# -- tensors dicts: dtypes, shapes, names --------------------------------------------


def old_norm_name(name):
    """LayerNorm's old name (gamma / beta) of a today's name, or None."""
    if ".LayerNorm.weight" in name:
        return name.replace("LayerNorm.weight", "LayerNorm.gamma")
    if ".LayerNorm.bias" in name:
        return name.replace("LayerNorm.bias", "LayerNorm.beta")
    return None


CHANGES = st.sampled_from(
    [("dtype", dtype) for dtype in NOT_FLOATS + ["float16", "float64", "float16", "float64"]]
    + [("shape", kind) for kind in ("0d", "1d", "transpose", "extra_row", "extra_axis")]
    + [("duplicate", None), ("delete", None), ("unexpected", None)]
)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@given(data=st.data())
def test_tensors_load_exactly_or_give_an_error_naming_each_at_fault(family, data):
    prefix = FAMILIES[family][1]
    base = hf_tensors(family, seed=data.draw(st.integers(0, 3)))
    pooler = [n for n in base if "pooler" in n]  # deleting it is not an error
    names = sorted(n for n in base if n not in pooler)
    chosen = data.draw(st.lists(st.sampled_from(names), min_size=0, max_size=4, unique=True))
    use_prefix = data.draw(st.booleans())
    tensors = {(prefix if use_prefix else "") + n: v for n, v in base.items()}
    expected = dict(base)  # HF name -> what the weight must hold after loading
    faults = []  # fragments the error must hold
    for name in chosen:
        kind, how = data.draw(CHANGES)
        key = (prefix if use_prefix else "") + name
        value = base[name]
        if kind == "dtype":
            changed = (np.abs(value) * 10).astype(how)
            tensors[key] = changed
            if how in NOT_FLOATS:
                faults.append(f"{name} ({how})")
            else:
                expected[name] = changed.astype("float32")
        elif kind == "shape":
            changed = {
                "0d": lambda v: np.asarray(v.ravel()[0]),
                "1d": lambda v: v.ravel(),
                "transpose": lambda v: v.T,
                "extra_row": lambda v: np.concatenate([v, v[:1]]) if v.ndim else v[None],
                "extra_axis": lambda v: v[None],
            }[how](value)
            tensors[key] = changed.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)
            if changed.shape == value.shape:
                expected[name] = changed
            else:
                faults.append(f"{name}: checkpoint {changed.shape}, model {value.shape}")
        elif kind == "duplicate":
            other = old_norm_name(key) or (name if use_prefix else prefix + name)
            tensors[other] = value
            faults += [key, other]
        elif kind == "delete":
            del tensors[key]
            faults += ["missing tensors: ", name]
        else:
            tensors[key.replace(".weight", ".extra_weight").replace(".bias", ".extra_bias")] = value
            faults.append("unexpected tensors: ")
    before = weights(family)
    with tempfile.TemporaryDirectory() as folder:
        if not faults:
            load(family, tensors, folder)
            for name, value in held(family).items():
                np.testing.assert_array_equal(value, expected[name], name)
            event("loaded")
            return
        with pytest.raises(ValueError) as error:
            load(family, tensors, folder)
    message = str(error.value)
    assert message.startswith(os.path.join(folder, "model.safetensors")), message
    for fault in faults:
        assert fault in message, (fault, message)
    for old, new in zip(before, weights(family), strict=True):
        np.testing.assert_array_equal(old, new)  # nothing half-loaded
    event("refused")


# The weights the issue names, per family: an attention matrix, a dense
# matrix, an embedding table, GPT-2's fused c_attn.
MATRICES = {
    "bert": [
        "encoder.layer.0.attention.self.query.weight",
        "encoder.layer.1.attention.output.dense.weight",
        "encoder.layer.0.intermediate.dense.weight",
        "embeddings.word_embeddings.weight",
    ],
    "roberta": ["encoder.layer.1.attention.self.value.weight", "pooler.dense.weight"],
    "albert": [
        "encoder.albert_layer_groups.0.albert_layers.0.attention.query.weight",
        "encoder.embedding_hidden_mapping_in.weight",
    ],
    "gpt2": ["h.0.attn.c_attn.weight", "h.1.attn.c_proj.weight", "wpe.weight"],
}


@pytest.mark.parametrize(
    "family, name", [(family, name) for family, names in MATRICES.items() for name in names]
)
def test_0d_and_1d_tensors_for_matrices_are_shape_errors_in_one_layout(family, name, tmp_path):
    tensors = hf_tensors(family)
    assert name in tensors, sorted(tensors)
    shape = tensors[name].shape
    for value in (tensors[name].ravel(), tensors[name].ravel()[:3], np.float32(1.0)):
        tensors[name] = np.asarray(value)
        before = weights(family)
        with pytest.raises(ValueError) as error:
            load(family, tensors, str(tmp_path))
        assert (
            f"shape mismatches (in the checkpoint's layout): {name}: "
            f"checkpoint {np.shape(value)}, model {shape}"
        ) in str(error.value)
        for old, new in zip(before, weights(family), strict=True):
            np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("dtype", NOT_FLOATS)
def test_integer_and_bool_tensors_are_refused_by_name(family, dtype, tmp_path):
    tensors = hf_tensors(family)
    first, second = MATRICES[family][0], sorted(n for n in tensors if n.endswith("bias"))[0]
    tensors[first] = tensors[first].astype(dtype)
    tensors[second] = tensors[second].astype(dtype)
    before = weights(family)
    with pytest.raises(ValueError) as error:
        load(family, tensors, str(tmp_path))
    message = str(error.value)
    assert "tensors that are not floating point: " in message
    assert f"{first} ({dtype})" in message and f"{second} ({dtype})" in message
    for old, new in zip(before, weights(family), strict=True):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_two_names_of_one_weight_are_refused_naming_both(family, tmp_path):
    prefix = FAMILIES[family][1]
    tensors = hf_tensors(family)
    name = "wte.weight" if family == "gpt2" else "embeddings.word_embeddings.weight"
    tensors[prefix + name] = tensors[name] + 1
    with pytest.raises(ValueError) as error:
        load(family, tensors, str(tmp_path))
    assert f"{prefix}{name} and {name}" in str(error.value) or (
        f"{name} and {prefix}{name}" in str(error.value)
    )
    if family != "gpt2":  # LayerNorm's old name and today's
        tensors = hf_tensors(family)
        tensors["embeddings.LayerNorm.gamma"] = tensors["embeddings.LayerNorm.weight"]
        with pytest.raises(ValueError) as error:
            load(family, tensors, str(tmp_path))
        assert (
            "tensors holding the same weight: embeddings.LayerNorm.gamma and "
            "embeddings.LayerNorm.weight (both embeddings.LayerNorm.weight)"
        ) in str(error.value)


def test_float16_float64_and_bfloat16_tensors_load_as_float32(tmp_path):
    tensors = hf_tensors("bert")
    name = "encoder.layer.0.output.dense.weight"
    tensors[name] = tensors[name].astype("float16")
    tensors["pooler.dense.bias"] = tensors["pooler.dense.bias"].astype("float64")
    load("bert", tensors, str(tmp_path))
    got = held("bert")
    np.testing.assert_array_equal(got[name], tensors[name].astype("float32"))
    np.testing.assert_array_equal(got["pooler.dense.bias"], tensors["pooler.dense.bias"])
    # BF16, written by hand: float32's upper 16 bits, read back exactly.
    bits = (hf_tensors("bert", seed=1)[name].view("<u4") >> 16).astype("<u2")
    tensors[name] = bits  # saved as U16, then named BF16 in the header
    save_file(tensors, str(tmp_path / "model.safetensors"))
    header, data = split(tmp_path / "model.safetensors")
    header[name]["dtype"] = "BF16"
    join(tmp_path / "model.safetensors", header, data)
    load_hf_weights(model("bert"), str(tmp_path))
    expected = (bits.astype("<u4") << 16).view("<f4")
    np.testing.assert_array_equal(held("bert")[name], expected)


# -- corrupt and truncated files -------------------------------------------------------


def split(path):
    """`(header dict, data bytes)` of a safetensors file."""
    blob = open(path, "rb").read()
    size = struct.unpack("<Q", blob[:8])[0]
    return json.loads(blob[8 : 8 + size]), blob[8 + size :]


def join(path, header, data, raw_header=None):
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(text)) + text + data)


def corrupt_cases():
    """`(label, change(header, data) -> file bytes, fragment of the error)`."""

    def with_header(change):
        def make(header, data):
            header = json.loads(json.dumps(header))
            change(header)
            text = json.dumps(header).encode()
            return struct.pack("<Q", len(text)) + text + data

        return make

    def raw(text):
        return lambda header, data: struct.pack("<Q", len(text)) + text + data

    first = "embeddings.word_embeddings.weight"
    return [
        ("empty", lambda h, d: b"", "fewer than a header's length"),
        ("seven bytes", lambda h, d: b"\x10" * 7, "fewer than a header's length"),
        ("huge header length", lambda h, d: struct.pack("<Q", 2**62) + b"{}", "header would be"),
        ("header past the end", lambda h, d: struct.pack("<Q", 10**6) + b"{}", "header would be"),
        ("header not JSON", raw(b"{not json}"), "header is not JSON"),
        ("header not UTF-8", raw(b'{"\xff": 1}'), "header is not JSON"),
        ("header a list", raw(b"[1, 2, 3]"), "header is not a JSON object"),
        ("header a number", raw(b"12"), "header is not a JSON object"),
        ("header nested deeply", raw(b"[" * 50000 + b"]" * 50000), "header is not JSON"),
        ("header NaN", raw(b'{"a": NaN}'), "header is not JSON"),
        ("key twice", raw(b'{"a": 1, "a": 2}'), "appears twice"),
        (
            "metadata not strings",
            with_header(lambda h: h.update(__metadata__={"a": 1})),
            "__metadata__",
        ),
        ("entry not an object", with_header(lambda h: h.update({first: [1]})), f"'{first}' is not"),
        ("unknown dtype", with_header(lambda h: h[first].update(dtype="XX")), "dtype 'XX'"),
        ("float8", with_header(lambda h: h[first].update(dtype="F8_E4M3")), "dtype 'F8_E4M3'"),
        ("dtype not a str", with_header(lambda h: h[first].update(dtype=4)), "dtype 4"),
        ("negative size", with_header(lambda h: h[first].update(shape=[-1, 8])), "shape [-1, 8]"),
        ("float size", with_header(lambda h: h[first].update(shape=[20.0, 8])), "shape [20.0, 8]"),
        ("shape a dict", with_header(lambda h: h[first].update(shape={"a": 1})), "shape {'a': 1}"),
        (
            "offsets past the end",
            with_header(lambda h: h[first].update(data_offsets=[0, 10**9])),
            "data_offsets",
        ),
        (
            "offsets reversed",
            with_header(lambda h: h[first].update(data_offsets=h[first]["data_offsets"][::-1])),
            "data_offsets",
        ),
        (
            "offsets negative",
            with_header(lambda h: h[first].update(data_offsets=[-4, 0])),
            "data_offsets",
        ),
        (
            "offsets of three",
            with_header(lambda h: h[first].update(data_offsets=[0, 1, 2])),
            "data_offsets",
        ),
        (
            "shape and bytes disagree",
            with_header(lambda h: h[first].update(shape=[20, 4])),
            "needs 320 bytes",
        ),
        (
            "overlap",
            with_header(
                lambda h: (
                    h[first].update(data_offsets=[0, 640])
                    or h.update({"x": {"dtype": "F32", "shape": [160], "data_offsets": [0, 640]}})
                )
            ),
            "overlap",
        ),
        ("truncated data", lambda h, d: with_header(lambda _: None)(h, d[:-5]), "outside the"),
        (
            "appended bytes",
            lambda h, d: with_header(lambda _: None)(h, d + b"\0" * 4),
            "bytes appended",
        ),
    ]


@functools.cache
def saved_checkpoint():
    """`(config.json text, model.safetensors bytes)` of the small BERT."""
    with tempfile.TemporaryDirectory() as folder:
        save_hf_weights(model("bert"), folder)
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as file:
            config = file.read()
        with open(os.path.join(folder, "model.safetensors"), "rb") as file:
            return config, file.read()


def write_checkpoint(folder, weights_bytes=None):
    config, original = saved_checkpoint()
    (folder / "config.json").write_text(config, encoding="utf-8")
    (folder / "model.safetensors").write_bytes(original if weights_bytes is None else weights_bytes)
    return folder / "model.safetensors"


@pytest.mark.parametrize(
    "label, change, fragment", corrupt_cases(), ids=[case[0] for case in corrupt_cases()]
)
def test_corrupt_files_are_value_errors_naming_the_file(label, change, fragment, tmp_path):
    path = write_checkpoint(tmp_path)
    header, data = split(path)
    path.write_bytes(change(header, data))
    before = weights("bert")
    reads = [
        lambda: read_safetensors(str(path)),
        lambda: load_hf_weights(model("bert"), str(tmp_path)),
    ]
    if label == "header not JSON":  # through a new model too, once
        reads.append(lambda: BertBackbone.from_pretrained(str(tmp_path)))
    for read in reads:
        with pytest.raises(ValueError) as error:
            read()
        assert str(error.value).startswith(f"{path} is not a readable safetensors file"), error
        assert fragment in str(error.value), (fragment, str(error.value))
    for old, new in zip(before, weights("bert"), strict=True):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_missing_files_name_the_path(family, tmp_path):
    loader = FAMILIES[family][2]
    with pytest.raises(FileNotFoundError, match=f"No checkpoint file at {tmp_path}"):
        loader(model(family), str(tmp_path))
    absent = str(tmp_path / "absent.safetensors")
    with pytest.raises(FileNotFoundError, match="absent.safetensors"):
        loader(model(family), absent)
    for argument in (None, 3, [absent]):
        with pytest.raises(ValueError, match="str or os.PathLike"):
            loader(model(family), argument)


def fuzz_case(path, truth, reference):
    """The outcome of reading and loading the file at `path`, checked
    against `truth`, what the safetensors library reads (None: it refuses)."""
    try:
        tensors = read_safetensors(str(path))
    except ValueError as error:
        assert str(error).startswith(f"{path} is not a readable safetensors file"), str(error)
        # kerastack's reader is stricter than the library's only in
        # documented ways: a key twice in the header's JSON.
        assert truth is None or "appears twice" in str(error), str(error)
        return "refused by the reader"
    assert truth is not None, f"kerastack read {path}, which the library refuses"
    assert sorted(tensors) == sorted(truth)
    for name, value in tensors.items():
        assert value.dtype == truth[name].dtype and value.shape == truth[name].shape, name
        np.testing.assert_array_equal(value, truth[name], name)
    before = weights("bert")
    try:
        load_hf_weights(model("bert"), str(path.parent))
    except ValueError as error:
        assert str(error).startswith(f"{path} does not fit this BertBackbone"), str(error)
        for old, new in zip(before, weights("bert"), strict=True):
            np.testing.assert_array_equal(old, new)  # nothing half-loaded
        return "read, refused by the model (names, shapes, dtypes)"
    got = held("bert")
    for name, value in got.items():
        np.testing.assert_array_equal(value, truth[name].astype("float32"), name)
    if all(np.array_equal(got[name], reference[name]) for name in got):
        return "loaded, identical to the original"
    return "loaded what the file holds (data bytes changed: safetensors has no checksum)"


def test_mutated_files_load_what_they_hold_or_give_an_error_naming_the_file(
    tmp_path, record_testsuite_property
):
    """FUZZ_CASES mutations of a small BERT checkpoint: truncations, byte
    flips in the header and in the data, changed header lengths, inserted
    and deleted bytes. safetensors has no checksums: a flipped data byte is a
    new value, and the file holds it; the oracle is the safetensors
    library's reader (what the file holds)."""
    path = write_checkpoint(tmp_path)
    original = path.read_bytes()
    load_hf_weights(model("bert"), str(tmp_path))
    reference = held("bert")
    header_end = 8 + struct.unpack("<Q", original[:8])[0]
    rng = np.random.default_rng(17)
    outcomes = {}
    for case in range(FUZZ_CASES):
        blob = bytearray(original)
        kind = ["truncate", "header", "data", "length", "insert", "delete"][case % 6]
        if kind == "truncate":
            blob = blob[: rng.integers(0, len(blob))]
        elif kind in ("header", "data"):
            low, high = (8, header_end) if kind == "header" else (header_end, len(blob))
            for _ in range(rng.integers(1, 4)):
                position = rng.integers(low, high)
                blob[position] ^= 1 << rng.integers(0, 8)
        elif kind == "length":
            blob[rng.integers(0, 8)] = rng.integers(0, 256)
        elif kind == "insert":
            position = rng.integers(0, len(blob))
            blob[position:position] = bytes([rng.integers(0, 256)])
        else:
            del blob[rng.integers(0, len(blob))]
        path.write_bytes(bytes(blob))
        try:
            truth = load_file(str(path))
        except Exception:  # the library refuses it (its SafetensorError, TypeError, ...)
            truth = None
        outcome = fuzz_case(path, truth, reference)
        if outcome.startswith("loaded"):  # back to the original weights
            path.write_bytes(original)
            load_hf_weights(model("bert"), str(tmp_path))
        outcomes[(kind, outcome)] = outcomes.get((kind, outcome), 0) + 1
    # In `nox -s fuzz`'s JUnit report (fuzz-summary/pytest.xml), and with -s.
    summary = {f"{kind}: {outcome}": count for (kind, outcome), count in sorted(outcomes.items())}
    record_testsuite_property("safetensors_mutations", json.dumps(summary))
    print(f"\n{FUZZ_CASES} mutations of a safetensors file:")
    for line, count in summary.items():
        print(f"  {line}: {count}")


# -- save_hf_weights: atomic, OSError ---------------------------------------------------


def files(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


@pytest.fixture
def saved(tmp_path):
    """A folder holding a saved checkpoint, and a model with other weights."""
    save_hf_weights(model("bert"), str(tmp_path))
    other = BertBackbone(**SMALL)
    for weight in other.weights:
        weight.assign(np.full(weight.shape, 0.5, "float32"))
    return tmp_path, files(tmp_path), other


def test_a_writer_failing_midway_leaves_the_old_files(saved, monkeypatch):
    import safetensors.numpy
    from safetensors import SafetensorError

    folder, old, other = saved

    def full_disk(tensors, path, metadata=None):
        with open(path, "wb") as file:
            file.write(b"\0" * 100)  # part of the file, then the disk is full
        raise SafetensorError("Error while serializing: IoError(No space left on device)")

    monkeypatch.setattr(safetensors.numpy, "save_file", full_disk)
    with pytest.raises(OSError) as error:
        save_hf_weights(other, str(folder))
    assert type(error.value) is not SafetensorError and isinstance(error.value, OSError)
    assert f"Could not write {folder / 'model.safetensors'}" in str(error.value)
    assert files(folder) == old  # the old files, and no temporary file


def test_a_config_write_failing_leaves_the_old_files(saved, monkeypatch):
    folder, old, other = saved
    calls = []
    real_fsync = os.fsync

    def failing_fsync(descriptor):
        calls.append(descriptor)
        if len(calls) == 2:  # the weights are written; config.json fails
            raise OSError(28, "No space left on device")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match=f"Could not write {folder / 'config.json'}.*No space"):
        save_hf_weights(other, str(folder))
    assert files(folder) == old


def test_a_failing_replace_leaves_the_old_files(saved, monkeypatch):
    folder, old, other = saved

    def failing_replace(source, target):
        raise PermissionError(13, "Permission denied", target)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match=f"Could not write {folder / 'model.safetensors'}"):
        save_hf_weights(other, str(folder))
    assert files(folder) == old


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes to read-only folders"
)
def test_a_read_only_folder_is_an_os_error_naming_the_file(saved):
    folder, old, other = saved
    os.chmod(folder, 0o555)
    try:
        with pytest.raises(OSError, match=f"Could not write {folder / 'model.safetensors'}"):
            save_hf_weights(other, str(folder))
    finally:
        os.chmod(folder, 0o755)
    assert files(folder) == old


def test_a_save_replaces_both_files_and_leaves_no_other(saved):
    folder, old, other = saved
    save_hf_weights(other, str(folder))
    assert sorted(os.listdir(folder)) == ["config.json", "model.safetensors"]
    assert files(folder) != old
    restored = BertBackbone.from_pretrained(str(folder))
    for a, b in zip(restored.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # The files' mode is the umask's, as for any new file (not a temporary 0600).
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(folder / "config.json").st_mode & 0o777 == 0o666 & ~umask


def test_a_folder_that_is_a_file_is_an_os_error_naming_it(tmp_path):
    path = tmp_path / "taken"
    path.write_text("a file")
    with pytest.raises(OSError, match="taken"):
        save_hf_weights(model("bert"), str(path))
    assert path.read_text() == "a file" and os.listdir(tmp_path) == ["taken"]


class Float16Model:
    """The least a model gives `assign_hf_tensors`: its table (here one
    float16 weight, in HF's layout transposed; building a float16 backbone
    costs seconds on JAX)."""

    hf_ignored_prefixes = ()

    def __init__(self):
        self.kernel = keras.Variable(np.zeros((3, 2), "float16"), dtype="float16")

    def hf_weight_table(self):
        return [(self.kernel, "dense.weight", Layout(lambda v: v.T, lambda v: v.T))]


def test_values_a_float16_model_cannot_hold_are_refused():
    target = Float16Model()
    value = np.array([[1.0, 2.0, 1e5], [4.0, 5.0, 6.0]], "float32")  # float16 holds 65,504
    with pytest.raises(ValueError) as error:
        assign_hf_tensors(target, {"dense.weight": value}, "somewhere")
    assert "out of the model's dtype's range: dense.weight (float32 to float16)" in str(error.value)
    np.testing.assert_array_equal(ops.convert_to_numpy(target.kernel), np.zeros((3, 2)))
    value[0, 2] = 6e4  # within range: loads, rounded to float16
    assign_hf_tensors(target, {"dense.weight": value}, "somewhere")
    np.testing.assert_array_equal(ops.convert_to_numpy(target.kernel), value.T.astype("float16"))


def test_tensors_given_directly_are_checked_alike():
    """`assign_hf_tensors` (what every reader feeds: safetensors, PyTorch
    files, Google checkpoints) with names that are not strings, and values
    that are nested lists or object arrays."""
    before = weights("bert")
    tensors = hf_tensors("bert")
    with pytest.raises(ValueError, match=r"somewhere holds tensors named by non-strings: \[1\]"):
        assign_hf_tensors(model("bert"), {**tensors, 1: np.zeros(3)}, "somewhere")
    name = "pooler.dense.bias"
    for value, fragment in (
        (np.array([object()] * 8), f"{name} (object)"),
        (np.array(["a"] * 8), f"{name} (<U1)"),
        (np.zeros(8, "complex64"), f"{name} (complex64)"),
    ):
        with pytest.raises(ValueError) as error:
            assign_hf_tensors(model("bert"), {**tensors, name: value}, "somewhere")
        assert f"not floating point: {fragment}" in str(error.value)
    for old, new in zip(before, weights("bert"), strict=True):
        np.testing.assert_array_equal(old, new)
    assign_hf_tensors(model("bert"), {**tensors, name: tensors[name].tolist()}, "somewhere")
    np.testing.assert_array_equal(held("bert")[name], tensors[name])


def test_pytorch_files_are_checked_alike(tmp_path):
    torch = pytest.importorskip("torch", reason="writing pytorch_model.bin needs PyTorch")
    tensors = {name: torch.from_numpy(value) for name, value in hf_tensors("bert").items()}
    name = "encoder.layer.0.attention.self.key.weight"
    tensors[name] = tensors[name].to(torch.int32)
    tensors["bert.pooler.dense.bias"] = tensors["pooler.dense.bias"]
    torch.save(tensors, tmp_path / "pytorch_model.bin")
    before = weights("bert")
    with pytest.raises(ValueError) as error:
        load_hf_weights(model("bert"), str(tmp_path))
    message = str(error.value)
    assert message.startswith(str(tmp_path / "pytorch_model.bin")), message
    assert f"not floating point: {name} (int32)" in message
    assert "bert.pooler.dense.bias and pooler.dense.bias" in message
    for old, new in zip(before, weights("bert"), strict=True):
        np.testing.assert_array_equal(old, new)
