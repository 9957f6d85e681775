"""kerastack-core: the seam's surface, and the house rule that only it knows the backend."""

import ast
from pathlib import Path

import keras
import numpy as np
import pytest

import kerastack.core as core
from kerastack.core import _seam

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = {"tensorflow", "jax", "torch", "theano"}


def test_keras_and_ops_are_the_running_keras():
    assert core.keras is keras
    assert core.ops is keras.ops  # no wrapper on Keras 3


def test_serializable_registers_under_kerastack():
    @core.serializable
    class SeamProbe(keras.layers.Layer):
        pass

    assert keras.saving.get_registered_name(SeamProbe) == "kerastack>SeamProbe"
    assert keras.saving.get_registered_object("kerastack>SeamProbe") is SeamProbe


def test_serializable_with_a_name():
    @core.serializable(name="RenamedSeamProbe")
    class SeamProbe(keras.layers.Layer):
        pass

    assert keras.saving.get_registered_name(SeamProbe) == "kerastack>RenamedSeamProbe"


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_large_negative_is_finite_and_dominates(dtype):
    value = core.large_negative(dtype)
    in_dtype = keras.ops.cast(keras.ops.cast(value, dtype), "float32")
    cast = keras.ops.convert_to_numpy(in_dtype).astype("float64")
    assert np.isfinite(cast)
    assert cast <= -6e4  # far below any real attention logit
    # softmax over [real, masked] puts (numerically) all weight on the real logit
    logits = keras.ops.cast(keras.ops.convert_to_tensor([3.0, value]), dtype)
    weights = keras.ops.convert_to_numpy(keras.ops.cast(keras.ops.softmax(logits), "float32"))
    np.testing.assert_allclose(weights, [1.0, 0.0], atol=1e-6)


def test_standardize_dtype():
    assert core.standardize_dtype("float16") == "float16"
    assert core.standardize_dtype(keras.ops.ones(1, dtype="bfloat16").dtype) == "bfloat16"


def test_keras_version_parsing():
    assert core.keras_version()[:2] >= core.KERAS_MIN_VERSION
    assert _seam._parse_version("3.15.1") == (3, 15, 1)
    assert _seam._parse_version("3.9.0rc1") == (3, 9, 0)
    assert _seam._parse_version("2.3.1") < (3, 8)


def _package_sources():
    return sorted((ROOT / "packages").glob("*/src/kerastack/**/*.py"))


def test_only_core_imports_a_backend():
    offenders = []
    for path in _package_sources():
        if "/core/" in path.as_posix():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in BACKENDS:
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert _package_sources(), "no package sources found"
    assert not offenders, offenders


def test_layers_take_keras_from_the_seam():
    """Package code imports keras only through kerastack.core."""
    offenders = []
    for path in _package_sources():
        if "/core/" in path.as_posix():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import) and any(
                a.name.split(".")[0] == "keras" for a in node.names
            ):
                offenders.append(str(path.relative_to(ROOT)))
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "keras":
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, offenders


def test_namespace_package_has_no_init():
    for package in (ROOT / "packages").iterdir():
        assert not (package / "src" / "kerastack" / "__init__.py").exists(), package.name


def test_one_version_and_exact_sibling_pins():
    """Every installed kerastack distribution carries the VERSION file's version,
    and pins its siblings to exactly that version."""
    from importlib import metadata

    version = (ROOT / "VERSION").read_text().strip()
    expected = {
        "kerastack-core": set(),
        "kerastack-attention": {"kerastack-core"},
        "kerastack-multihead": {"kerastack-core", "kerastack-attention"},
    }
    for name, siblings in expected.items():
        assert metadata.version(name) == version
        requires = set(metadata.requires(name) or [])
        assert {f"{s}=={version}" for s in siblings} <= requires, (name, requires)
        assert not {r for r in requires if r.startswith("kerastack-")} - {
            f"{s}=={version}" for s in siblings
        }


def test_embedding_lookup_in_eager_calls_takes_rows_of_a_variable():
    from kerastack.core import embedding_lookup, keras, ops

    table = keras.Variable(np.arange(12, dtype="float32").reshape(4, 3))
    ids = np.array([[3, 0, 3]], dtype="int32")
    rows = ops.convert_to_numpy(embedding_lookup(table, ids))  # eager, outside any trace
    np.testing.assert_array_equal(rows, np.arange(12, dtype="float32").reshape(4, 3)[ids])
