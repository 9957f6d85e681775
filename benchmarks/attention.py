"""Attention layers, forward and one training step, on the active backend.

kerastack's MultiHeadAttention and SelfAttention against
`keras.layers.MultiHeadAttention`, at several sequence lengths, in one
process, interleaved so that each ratio is measured side by side. Both run
through Keras's own compiled paths (`predict_on_batch`, `train_on_batch`), so
neither side gets a different compiler. The first calls (tracing and
compilation) are timed separately and excluded from the steady-state figures;
the clock stops only once the result is on the host as NumPy.

    KERAS_BACKEND=jax python benchmarks/attention.py --quick --out results/attention-jax.json
"""

import argparse
import json
import statistics
import time

import environment
import keras
import numpy as np

from kerastack.attention import SelfAttention
from kerastack.multihead import MultiHeadAttention

WIDTH = 256
HEADS = 4


def build(kind, length):
    inputs = keras.Input((length, WIDTH))
    if kind == "kerastack.MultiHeadAttention":
        x = MultiHeadAttention(num_heads=HEADS, key_dim=WIDTH // HEADS)(inputs, inputs)
    elif kind == "keras.layers.MultiHeadAttention":
        x = keras.layers.MultiHeadAttention(num_heads=HEADS, key_dim=WIDTH // HEADS)(inputs, inputs)
    elif kind == "kerastack.SelfAttention(multiplicative)":
        x = SelfAttention(attention_type="multiplicative")(inputs)
    else:
        raise ValueError(kind)
    model = keras.Model(inputs, x)
    model.compile(optimizer="adam", loss="mse")
    return model


def to_host(result):
    return keras.ops.convert_to_numpy(result) if not isinstance(result, float) else result


def measure(models, batch, repeats):
    """Interleaved timings: for each repeat, each model once, forward then train."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(batch).astype("float32")
    figures = {}
    for name, model in models.items():
        start = time.perf_counter()
        to_host(model.predict_on_batch(x))
        forward_compile = time.perf_counter() - start
        start = time.perf_counter()
        np.asarray(model.train_on_batch(x, x))
        train_compile = time.perf_counter() - start
        figures[name] = {
            "forward_first_call_s": forward_compile,
            "train_first_call_s": train_compile,
            "forward_s": [],
            "train_s": [],
        }
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            to_host(model.predict_on_batch(x))
            figures[name]["forward_s"].append(time.perf_counter() - start)
            start = time.perf_counter()
            np.asarray(model.train_on_batch(x, x))
            figures[name]["train_s"].append(time.perf_counter() - start)
    for entry in figures.values():
        for key in ("forward", "train"):
            samples = entry[f"{key}_s"]
            entry[f"{key}_median_s"] = statistics.median(samples)
            entry[f"{key}_spread_s"] = [min(samples), max(samples)]
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short lengths, few repeats")
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args()

    lengths = [128, 512] if args.quick else [128, 512, 2048, 8192]
    repeats = 5 if args.quick else 10
    kinds = [
        "keras.layers.MultiHeadAttention",
        "kerastack.MultiHeadAttention",
        "kerastack.SelfAttention(multiplicative)",
    ]
    results = []
    for length in lengths:
        batch = max(1, 4096 // length)  # keep tokens per step constant-ish
        models = {kind: build(kind, length) for kind in kinds}
        figures = measure(models, (batch, length, WIDTH), repeats)
        for kind, entry in figures.items():
            results.append({"layer": kind, "batch": batch, "length": length, **entry})
        print(f"length {length}: done", flush=True)
    report = {
        "benchmark": "attention",
        "backend": keras.config.backend(),
        "machine": environment.machine(),
        "versions": environment.versions(),
        "width": WIDTH,
        "heads": HEADS,
        "repeats": repeats,
        "results": results,
    }
    with open(args.out, "w") as handle:
        json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()
