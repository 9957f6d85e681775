"""The lane is what it says (conftest.py also checks the backend in every test process)."""

import importlib.util
import subprocess
import sys

import pytest

from kerastack.core import keras, keras_version
from tests.conftest import lane_stack

LANE_MAJOR, LANE_BACKEND = lane_stack()


@pytest.mark.skipif(LANE_BACKEND is None, reason="not in a tox lane: KERAS_BACKEND is unset")
def test_backend_is_the_lanes():
    assert keras.config.backend() == LANE_BACKEND
    assert keras_version()[0] == LANE_MAJOR


@pytest.mark.skipif(LANE_MAJOR == 3, reason="only the legacy lanes run Keras 2")
def test_keras2_is_served_by_the_seam():
    from kerastack.core import ops

    # On Keras 2 the seam's `ops` is kerastack's module, and `keras` a namespace
    # over Keras 2 itself: its Model and Input are Keras 2's.
    assert ops.__name__ == "kerastack.core._legacy_ops"
    assert keras.Model.__module__.split(".")[0] in ("keras", "tf_keras")


@pytest.mark.skipif(
    LANE_BACKEND in (None, "tensorflow"),
    reason="only the jax, torch and theano lanes are TensorFlow-free",
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
        # kerastack-bert is a Keras 3 package: not installed in the theano lane.
        + ("import kerastack.bert\n" if LANE_MAJOR == 3 else "")
        + "leaked = sorted(m for m in sys.modules if m.split('.')[0] == 'tensorflow')\n"
        "assert not leaked, leaked\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
