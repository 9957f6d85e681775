"""Shared test setup: every lane first proves it runs the Keras and backend it asked for."""

import os

import pytest

from kerastack.core import keras, keras_version

KERAS3 = keras_version()[0] >= 3


def lane_stack():
    """(Keras major version, backend) the lane's environment asks for."""
    legacy_tf = os.environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true", "yes")
    backend = "tensorflow" if legacy_tf else os.environ.get("KERAS_BACKEND")
    major = 2 if legacy_tf or backend == "theano" else 3
    return major, backend


def pytest_configure(config):
    """Every test process (each xdist worker too) first checks that kerastack runs
    the Keras and backend the lane asked for; a mismatch stops the run before any test."""
    major, backend = lane_stack()
    running = (keras_version()[0], keras.config.backend())
    if backend is not None and running != (major, backend):
        raise pytest.UsageError(
            f"The lane asks for Keras {major} on {backend!r} (KERAS_BACKEND, "
            f"TF_USE_LEGACY_KERAS), but kerastack runs Keras {keras.__version__} "
            f"on {keras.config.backend()!r}."
        )


def pytest_report_header(config):
    return (
        f"keras {keras.__version__}, backend {keras.config.backend()}, "
        f"KERAS_BACKEND={os.environ.get('KERAS_BACKEND', '(unset)')}, "
        f"TF_USE_LEGACY_KERAS={os.environ.get('TF_USE_LEGACY_KERAS', '(unset)')}"
    )


def pytest_runtest_setup(item):
    """A test marked `keras3("why")` is skipped on the Keras 2 lanes, saying why."""
    marker = item.get_closest_marker("keras3")
    if marker is not None and not KERAS3:
        reason = marker.args[0] if marker.args else marker.kwargs["reason"]
        pytest.skip(f"Keras 3 only: {reason}")


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts with float32 and fresh layer names, whatever the last one did."""
    if KERAS3:
        keras.config.set_dtype_policy("float32")
        keras.utils.clear_session(free_memory=False)  # as Keras's own TestCase.setUp
    else:  # Keras 2.3 on Theano has no session: it only resets layer names
        getattr(keras.backend, "clear_session", keras.backend.reset_uids)()
    yield
    if KERAS3:
        keras.config.set_dtype_policy("float32")
