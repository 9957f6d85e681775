"""Shared test setup: every lane first proves it runs the backend it asked for."""

import os

import keras
import pytest


def pytest_configure(config):
    """Every test process (each xdist worker too) first checks that Keras runs
    the backend the lane asked for; a mismatch stops the run before any test."""
    wanted = os.environ.get("KERAS_BACKEND")
    if wanted is not None and keras.config.backend() != wanted:
        raise pytest.UsageError(
            f"KERAS_BACKEND={wanted!r}, but Keras runs {keras.config.backend()!r}."
        )


def pytest_report_header(config):
    return (
        f"keras {keras.__version__}, backend {keras.config.backend()}, "
        f"KERAS_BACKEND={os.environ.get('KERAS_BACKEND', '(unset)')}"
    )


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts with float32 and fresh layer names, whatever the last one did."""
    keras.config.set_dtype_policy("float32")
    keras.utils.clear_session(free_memory=False)  # as Keras's own TestCase.setUp
    yield
    keras.config.set_dtype_policy("float32")
