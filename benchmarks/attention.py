"""kerastack's layers, forward and one training step, on the active backend.

Each layer against the one users would pick instead, at several sequence
lengths, in one process, interleaved so that each ratio is measured side by
side: MultiHeadAttention and SelfAttention against
`keras.layers.MultiHeadAttention`, LayerNormalization against
`keras.layers.LayerNormalization`, and, where keras-hub is installed,
PositionEmbedding and TransformerEncoder against keras-hub's. Both run
through Keras's own compiled paths (`predict_on_batch`, `train_on_batch`), so
neither side gets a different compiler. The first calls (tracing and
compilation) are timed separately and excluded from the steady-state figures;
the clock stops only once the result is on the host as NumPy.

    KERAS_BACKEND=jax python benchmarks/attention.py --quick --out results/attention-jax.json
"""

import argparse
import importlib.util
import statistics
import time

import environment
import keras
import numpy as np

from kerastack.attention import SelfAttention
from kerastack.layernorm import LayerNormalization
from kerastack.multihead import MultiHeadAttention
from kerastack.position import PositionEmbedding
from kerastack.transformer import TransformerEncoder

WIDTH = 256
HEADS = 4


def _keras_hub():
    import keras_hub

    return keras_hub


# layer -> (the peer it is compared with, a function of the length making it)
LAYERS = {
    "keras.layers.MultiHeadAttention": (
        "keras.layers.MultiHeadAttention",
        lambda n: lambda x: keras.layers.MultiHeadAttention(HEADS, WIDTH // HEADS)(x, x),
    ),
    "kerastack.MultiHeadAttention": (
        "keras.layers.MultiHeadAttention",
        lambda n: lambda x: MultiHeadAttention(num_heads=HEADS, key_dim=WIDTH // HEADS)(x, x),
    ),
    "kerastack.SelfAttention(multiplicative)": (
        "keras.layers.MultiHeadAttention",
        lambda n: SelfAttention(attention_type="multiplicative"),
    ),
    "keras.layers.LayerNormalization": (
        "keras.layers.LayerNormalization",
        lambda n: keras.layers.LayerNormalization(),
    ),
    "kerastack.LayerNormalization": (
        "keras.layers.LayerNormalization",
        lambda n: LayerNormalization(),
    ),
    "keras_hub.layers.PositionEmbedding": (
        "keras_hub.layers.PositionEmbedding",
        lambda n: lambda x: x + _keras_hub().layers.PositionEmbedding(n)(x),
    ),
    "kerastack.PositionEmbedding": (
        "keras_hub.layers.PositionEmbedding",
        lambda n: lambda x: x + PositionEmbedding(n)(x),
    ),
    "keras_hub.layers.TransformerEncoder": (
        "keras_hub.layers.TransformerEncoder",
        lambda n: _keras_hub().layers.TransformerEncoder(4 * WIDTH, HEADS),
    ),
    "kerastack.TransformerEncoder": (
        "keras_hub.layers.TransformerEncoder",
        lambda n: TransformerEncoder(4 * WIDTH, HEADS),
    ),
}


def build(kind, length):
    inputs = keras.Input((length, WIDTH))
    x = LAYERS[kind][1](length)(inputs)
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
    parser.add_argument("--quick", action="store_true", help="512 tokens only, 5 repeats")
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args()

    lengths = [512] if args.quick else [128, 512, 2048, 8192]
    repeats = 5 if args.quick else 10
    kinds = [
        kind
        for kind, (peer, _) in LAYERS.items()
        if "keras_hub" not in peer or importlib.util.find_spec("keras_hub") is not None
    ]
    results = []
    for length in lengths:
        batch = max(1, 4096 // length)  # keep tokens per step constant-ish
        models = {kind: build(kind, length) for kind in kinds}
        figures = measure(models, (batch, length, WIDTH), repeats)
        for kind, entry in figures.items():
            results.append(
                {"layer": kind, "peer": LAYERS[kind][0], "batch": batch, "length": length, **entry}
            )
        print(f"length {length}: done", flush=True)
    environment.write_report(
        args.out, "attention", results, width=WIDTH, heads=HEADS, repeats=repeats
    )


if __name__ == "__main__":
    main()
