"""What every benchmark report records about where it ran."""

import os
import platform
from importlib import metadata

LIBRARIES = ["keras", "numpy", "tensorflow-cpu", "tensorflow", "jax", "jaxlib", "torch"]
KERASTACK = [f"kerastack-{name}" for name in ("core", "attention", "multihead", "transformer")]


def machine():
    return {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def versions(extra=()):
    """Installed versions of the libraries a figure depends on (and of `extra`)."""
    found = {}
    for name in LIBRARIES + KERASTACK + list(extra):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found
