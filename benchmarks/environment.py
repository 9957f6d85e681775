"""What every benchmark report records about where it ran."""

import json
import os
import platform
import statistics
import time
from importlib import metadata

import numpy as np

LIBRARIES = ["keras", "numpy", "tensorflow-cpu", "tensorflow", "jax", "jaxlib", "torch"]
KERASTACK = [
    f"kerastack-{name}"
    for name in ("core", "attention", "multihead", "position", "layernorm", "transformer", "bert")
]


def machine():
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or _cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def _cpu_model():
    """The CPU's model name from /proc/cpuinfo (Linux), else ""."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def versions(extra=()):
    """Installed versions of the libraries a figure depends on (and of `extra`)."""
    found = {}
    for name in LIBRARIES + KERASTACK + list(extra):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def gemm_rate(size=2048, repeats=5):
    """The machine's float32 matrix-multiply rate through NumPy's BLAS, in
    FLOP/s: the median over `repeats` products of two `size` x `size` random
    matrices (2 size^3 FLOPs each) after one warm-up product. The physical
    limit a dense model's figures are compared with."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return {
        "size": size,
        "flops_per_s": 2 * size**3 / statistics.median(times),
        "spread_flops_per_s": [2 * size**3 / max(times), 2 * size**3 / min(times)],
    }


def write_report(path, benchmark, results, **fields):
    """Writes the JSON report of one benchmark run on the active backend:
    where it ran (backend, machine, versions), `fields` and the `results`."""
    import keras

    report = {
        "benchmark": benchmark,
        "backend": keras.config.backend(),
        "machine": machine(),
        "versions": versions(fields.pop("extra_versions", ())),
        **fields,
        "results": results,
    }
    with open(path, "w") as handle:
        json.dump(report, handle, indent=2)
