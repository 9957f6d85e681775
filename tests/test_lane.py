"""The lane is what it says (conftest.py also checks the backend in every test process)."""

import importlib.util
import os
import subprocess
import sys

import keras
import pytest

LANE_BACKEND = os.environ.get("KERAS_BACKEND")


@pytest.mark.skipif(LANE_BACKEND is None, reason="not in a tox lane: KERAS_BACKEND is unset")
def test_backend_is_the_lanes():
    assert keras.config.backend() == LANE_BACKEND


@pytest.mark.skipif(
    LANE_BACKEND in (None, "tensorflow"),
    reason="only the jax and torch lanes are TensorFlow-free",
)
def test_packages_import_without_tensorflow():
    assert importlib.util.find_spec("tensorflow") is None, "TensorFlow is installed in this lane"
    code = (
        "import sys\n"
        "import kerastack.core, kerastack.attention, kerastack.multihead\n"
        "import kerastack.position, kerastack.layernorm, kerastack.transformer\n"
        "import kerastack.attention.compat, kerastack.multihead.compat\n"
        "import kerastack.position.compat, kerastack.layernorm.compat\n"
        "import kerastack.transformer.compat\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] == 'tensorflow')\n"
        "assert not leaked, leaked\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
