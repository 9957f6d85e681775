"""BERT-base on the active backend: kerastack against the libraries users
would pick instead, side by side in one process.

    KERAS_BACKEND=jax python benchmarks/bert.py --out results/bert-jax.json [--quick]
    KERAS_BACKEND=torch python benchmarks/bert.py --out results/bert-torch.json [--quick]
        [--compiled | --no-compiled] [--dtype bfloat16] [--tiny] [--only NAME ...]

BERT-base (12 blocks, width 768, 12 heads, feed-forward 3072, vocabulary
30522; random weights, nothing downloaded) is measured three ways:

- inference at batch 8 x 128 tokens and latency at batch 1 x 16 (the
  sequence output on the host as NumPy);
- one AdamW training step at batch 8 x 128 (dropout on; the loss is the mean
  squared error of the sequence output against a fixed random target, so
  that every model does the same work and no task head weighs in).

Contenders, where installed:

- `kerastack.bert.BertBackbone`;
- `keras_hub.models.BertBackbone` on the same backend;
- on PyTorch, `transformers.BertModel`, eager, SDPA attention;
- on PyTorch, the compiled rows: "kerastack compiled" and "keras-hub
  compiled" (the same backbones, `compile(jit_compile=True)`: Keras wraps
  its train and predict steps in `torch.compile`) and "transformers
  compiled" (`torch.compile(model)`, called for inference and in the
  training step; the optimizer step stays eager);
- on TensorFlow, keras-bert 0.89 on tf-keras 2.21 (inference only), the
  library kerastack succeeds. Keras 3 and tf-keras share the process: the
  kerastack seam picks Keras 3 first, then `TF_USE_LEGACY_KERAS=1` makes the
  `tensorflow.keras` that keras-bert imports tf-keras.

Keras models run through Keras's own paths (`predict_on_batch`,
`train_on_batch`: `jax.jit` on JAX, `tf.function` on TensorFlow (XLA where
Keras turns it on, on a GPU), eager on PyTorch unless compiled), so no Keras
library gets a different compiler. On PyTorch the Keras models get their
inputs as torch tensors, converted once before timing (as transformers gets
its own): Keras's compiled step would otherwise convert NumPy inside the
`torch.compile`d function, a graph break.

The compiled rows are on by default; `--quick` leaves them out (a BERT-base
inductor compile takes minutes on a small CPU) unless `--compiled` is given;
`--no-compiled` leaves them out of a full run. On JAX and TensorFlow the
Keras rows already are compiled and the flags change nothing.

Timing (`timing.interleaved`): each contender's first call (trace, compile:
a compiled row's compile time) is reported apart as `first_call_s`; then the
contender is called again until two consecutive calls are within 10% of each
other (at most 10 warm-ups, 4 with `--quick`, counted in `warmups`); then each repeat runs
every contender once, in turn. Each row reports the median and the best
(`min_s`) repeat. "vs fastest peer": the row's median over that of the
fastest row of a library other than kerastack (any non-kerastack row,
compiled or eager), one yardstick for every row of a case, so the peer that
sets it reads 1.00x; `best_vs_fastest_peer_best` is the same ratio of best
repeats; `vs` holds the row's median over every other row's. `uncertain`
flags a row whose spread, or the yardstick row's, is wider than the gap
between their medians: the ratio is a tie, not a ranking.

The report also holds the machine's float32 GEMM rate, measured in the same
process, and each figure as a fraction of it (model FLOPs / time / GEMM
rate), and the backend's own GEMM rate in the benchmark's dtype.

Each PyTorch row also records what TorchDynamo did while it was timed
(`dynamo`: graphs captured and graph breaks by reason), so a compiled row
shows whether its figure comes from one graph. Compiled Keras models share
Dynamo's state in one process: with keras-hub's compiled BERT in the
process (whose own graph breaks, in Keras's `Layer.__call__`, leave
mutated-dictionary guards behind), kerastack's compiled step retraces and
breaks too, which it does not alone. `--only NAME` (repeatable) runs only
the named contenders, e.g. `--only "kerastack compiled" --only
transformers` for kerastack's compiled figures as a user's process gets
them.

`--tiny` swaps BERT-base for a 2-block model of width 64 (vocabulary 1000)
at small shapes, only to smoke-test this script in seconds; its figures mean
nothing.
"""

import argparse
import importlib.util
import os

import environment
import keras
import numpy as np
import timing

import kerastack.core  # noqa: F401  (the seam picks Keras 3 before tf-keras can be asked for)
from kerastack.bert import BertBackbone

BASE = {
    "vocabulary_size": 30522,
    "num_layers": 12,
    "num_heads": 12,
    "hidden_dim": 768,
    "intermediate_dim": 3072,
    "max_sequence_length": 512,
}
CASES = {"inference": (8, 128), "latency": (1, 16), "train_step": (8, 128)}
# `--tiny`: a smoke test of this script, not a benchmark.
TINY = {
    "vocabulary_size": 1000,
    "num_layers": 2,
    "num_heads": 2,
    "hidden_dim": 64,
    "intermediate_dim": 128,
    "max_sequence_length": 64,
}
TINY_CASES = {"inference": (2, 16), "latency": (1, 8), "train_step": (2, 16)}
KERASTACK = "kerastack"
COMPILED = " compiled"


def library(name):
    """The library a contender's name stands for: "kerastack compiled" -> "kerastack"."""
    return name.removesuffix(COMPILED)


def forward_flops(batch, length, config=BASE):
    """Multiply-add FLOPs (2 per multiply-add) of one forward pass of the
    encoder stack: the four attention projections, scores and weighted sum,
    and the feed-forward pair, per block. Embedding lookups, layer norms,
    softmax and the pooler are left out (under 0.5% at these sizes)."""
    tokens = batch * length
    width, inner = config["hidden_dim"], config["intermediate_dim"]
    per_block = 2 * tokens * (4 * width * width + 2 * width * inner)
    per_block += 2 * 2 * batch * length * length * width
    return config["num_layers"] * per_block


def case_flops(case, batch, length, config=BASE):
    # A training step: forward, then the backward pass's two products per forward product.
    return forward_flops(batch, length, config) * (3 if case == "train_step" else 1)


def backend_gemm_rate(dtype, size, repeats=5):
    """The backend's own matrix-multiply rate in `dtype` (FLOP/s), compiled
    as the models are (`kerastack.core.compile_function`); only a scalar
    comes back to the host. On a GPU this, not NumPy's, is the limit."""
    from kerastack.core import compile_function, ops

    rng = np.random.default_rng(0)
    a = ops.cast(ops.convert_to_tensor(rng.standard_normal((size, size), dtype="float32")), dtype)
    product = compile_function(lambda x: ops.sum(ops.cast(ops.matmul(x, x), "float32")), [])
    figures = timing.interleaved({"gemm": lambda: ops.convert_to_numpy(product(a))}, repeats)
    return {"size": size, "dtype": dtype, "flops_per_s": 2 * size**3 / figures["gemm"]["median_s"]}


def keras_inputs(batch, length, config=BASE, seed=0):
    rng = np.random.default_rng(seed)
    low = min(1000, config["vocabulary_size"] // 2)
    return {
        "token_ids": rng.integers(low, config["vocabulary_size"], (batch, length)).astype("int32"),
        "segment_ids": (np.arange(length) >= length // 2).astype("int32")[None].repeat(batch, 0),
        "padding_mask": np.ones((batch, length), "int32"),
    }


def target(batch, length, config=BASE, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, length, config["hidden_dim"])).astype("float32")


DTYPES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


class KerasContender:
    """A Keras 3 backbone whose inputs are `token_ids`, `segment_ids`,
    `padding_mask` and whose outputs hold `sequence_output`, compiled with
    `jit_compile` (Keras's "auto": eager on PyTorch; True: `torch.compile`)."""

    def __init__(self, backbone, jit_compile="auto"):
        self.backbone = backbone
        sequence = backbone.output["sequence_output"]
        self.model = keras.Model(backbone.input, sequence)
        self.model.compile(
            optimizer=keras.optimizers.AdamW(1e-5), loss="mse", jit_compile=jit_compile
        )

    @staticmethod
    def tensors(arrays):
        """On PyTorch, the arrays as torch tensors (on the default device),
        converted once here rather than inside each (compiled) step."""
        if keras.config.backend() != "torch":
            return arrays
        return keras.tree.map_structure(keras.ops.convert_to_tensor, arrays)

    def infer(self, inputs):
        inputs = self.tensors(inputs)
        return lambda: self.model.predict_on_batch(inputs)

    def train(self, inputs, y):
        inputs, y = self.tensors(inputs), self.tensors(y)
        return lambda: float(self.model.train_on_batch(inputs, y))


def kerastack_contender(dtype, config=BASE, jit_compile="auto"):
    return KerasContender(BertBackbone(**config, dtype=DTYPES[dtype]), jit_compile)


def keras_hub_contender(dtype, config=BASE, jit_compile="auto"):
    import keras_hub

    return KerasContender(keras_hub.models.BertBackbone(**config, dtype=DTYPES[dtype]), jit_compile)


class TransformersContender:
    """HF `transformers.BertModel` in PyTorch with SDPA attention (in
    bfloat16, the whole model is cast: transformers' own way); eager, or
    with `compiled` through `torch.compile(model)` (forward and backward
    compiled, the optimizer step eager)."""

    def __init__(self, dtype, config=BASE, compiled=False):
        import torch
        import transformers

        self.torch = torch
        hf_config = transformers.BertConfig(
            vocab_size=config["vocabulary_size"],
            hidden_size=config["hidden_dim"],
            num_hidden_layers=config["num_layers"],
            num_attention_heads=config["num_heads"],
            intermediate_size=config["intermediate_dim"],
            max_position_embeddings=config["max_sequence_length"],
            attn_implementation="sdpa",
        )
        torch.manual_seed(0)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.dtype = getattr(torch, dtype)
        self.model = transformers.BertModel(hf_config).to(self.device, self.dtype)
        # The compiled module shares the model's parameters and its train/eval mode.
        self.forward = torch.compile(self.model) if compiled else self.model
        self.optimizer = None

    def tensors(self, inputs):
        return {
            name: self.torch.from_numpy(inputs[key].astype("int64")).to(self.device)
            for name, key in (
                ("input_ids", "token_ids"),
                ("token_type_ids", "segment_ids"),
                ("attention_mask", "padding_mask"),
            )
        }

    def infer(self, inputs):
        tensors = self.tensors(inputs)

        def run():
            self.model.eval()
            with self.torch.inference_mode():
                return self.forward(**tensors).last_hidden_state.float().cpu().numpy()

        return run

    def train(self, inputs, y):
        tensors = self.tensors(inputs)
        y = self.torch.from_numpy(y).to(self.device, self.dtype)
        if self.optimizer is None:
            self.optimizer = self.torch.optim.AdamW(self.model.parameters(), lr=1e-5)

        def run():
            self.model.train()
            self.optimizer.zero_grad()
            output = self.forward(**tensors).last_hidden_state
            loss = self.torch.nn.functional.mse_loss(output, y)
            loss.backward()
            self.optimizer.step()
            return loss.item()

        return run


class KerasBertContender:
    """keras-bert 0.89's `get_model` on tf-keras (Keras 2), inference only."""

    def __init__(self, dtype, config=BASE):
        if dtype != "float32":
            raise ValueError("keras-bert runs in float32 only")
        os.environ["TF_USE_LEGACY_KERAS"] = "1"  # keras-bert's `tensorflow.keras`
        import keras_bert
        import tf_keras

        inputs, outputs = keras_bert.get_model(
            token_num=config["vocabulary_size"],
            head_num=config["num_heads"],
            transformer_num=config["num_layers"],
            embed_dim=config["hidden_dim"],
            feed_forward_dim=config["intermediate_dim"],
            seq_len=None,
            pos_num=config["max_sequence_length"],
            training=False,
        )
        self.model = tf_keras.Model(inputs, outputs)

    def infer(self, inputs):
        # keras-bert's inputs: token ids (0 is padding) and segment ids.
        arrays = [inputs["token_ids"], inputs["segment_ids"]]
        return lambda: self.model.predict_on_batch(arrays)

    train = None


def contenders(backend, dtype, config=BASE, compiled=False):
    """`{name: contender}`: kerastack first, then the peers installed here;
    with `compiled` on PyTorch, then the compiled rows."""
    has_hub = importlib.util.find_spec("keras_hub") is not None
    has_transformers = backend == "torch" and importlib.util.find_spec("transformers") is not None
    found = {KERASTACK: kerastack_contender(dtype, config)}
    if has_hub:
        found["keras-hub"] = keras_hub_contender(dtype, config)
    if has_transformers:
        found["transformers"] = TransformersContender(dtype, config)
    if (
        backend == "tensorflow"
        and dtype == "float32"
        and all(importlib.util.find_spec(name) is not None for name in ("keras_bert", "tf_keras"))
    ):
        found["keras-bert"] = KerasBertContender(dtype, config)
    if compiled and backend == "torch":
        import torch

        # Each case's shapes get their own static graph: by default a second
        # shape (1 x 16 after 8 x 128) recompiles with symbolic sizes, which
        # the eager rows never pay for, and transformers' one compiled module
        # would run training in those dynamic-shape kernels too.
        torch._dynamo.config.automatic_dynamic_shapes = False
        # One process holds two compiled Keras models (and eager ones of the
        # same classes) at two shapes each: more cache entries per Keras step
        # function than Dynamo's default limit of 8, past which it would
        # quietly run the step eagerly. A user's single model stays far below.
        torch._dynamo.config.recompile_limit = 64
        # And should it still be reached, the run fails rather than time eager code.
        torch._dynamo.config.fail_on_recompile_limit_hit = True
        found[KERASTACK + COMPILED] = kerastack_contender(dtype, config, jit_compile=True)
        if has_hub:
            found["keras-hub" + COMPILED] = keras_hub_contender(dtype, config, jit_compile=True)
        if has_transformers:
            found["transformers" + COMPILED] = TransformersContender(dtype, config, compiled=True)
    return found


def compare(figures):
    """Adds to each entry of one case's `figures` its ratios to the others:
    `vs` (median over each other row's median), and against the yardstick,
    the fastest row of a library other than kerastack (`fastest_peer`):
    `vs_fastest_peer` (medians), `best_vs_fastest_peer_best` (best repeats)
    and `uncertain` (`timing.uncertain` of the two; left out for the
    yardstick row itself). Without a peer, only `vs`."""
    for name, entry in figures.items():
        entry["vs"] = {
            other: entry["median_s"] / figures[other]["median_s"]
            for other in figures
            if other != name
        }
    peers = [name for name in figures if library(name) != KERASTACK]
    if not peers:
        return
    fastest = min(peers, key=lambda name: figures[name]["median_s"])
    best = min(figures[name]["min_s"] for name in peers)
    yardstick = figures[fastest]
    for name, entry in figures.items():
        entry["fastest_peer"] = fastest
        entry["vs_fastest_peer"] = entry["median_s"] / yardstick["median_s"]
        entry["best_vs_fastest_peer_best"] = entry["min_s"] / best
        if name != fastest:
            entry["uncertain"] = timing.uncertain(entry, yardstick)


def tallied(run, tally):
    """`run`, adding to `tally` the graphs TorchDynamo captures and the graph
    breaks it meets while `run` runs (by reason: the message's first line),
    so each row shows whether its figure comes from one compiled graph. Costs
    a few microseconds a call; only the PyTorch rows are wrapped."""
    from torch._dynamo.utils import counters

    def wrapped():
        graphs = counters["stats"]["unique_graphs"]
        breaks = dict(counters["graph_break"])
        result = run()
        tally["graphs"] = tally.get("graphs", 0) + counters["stats"]["unique_graphs"] - graphs
        for reason, count in counters["graph_break"].items():
            if count != breaks.get(reason, 0):
                key = reason.splitlines()[0]
                tally["breaks"][key] = tally["breaks"].get(key, 0) + count - breaks.get(reason, 0)
        return result

    return wrapped


def _on_gpu():
    backend = keras.config.backend()
    if backend == "jax":
        import jax

        return jax.default_backend() == "gpu"
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer repeats and warm-ups, no compiled rows"
    )
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--dtype", choices=tuple(DTYPES), default="float32")
    parser.add_argument(
        "--compiled",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the compiled PyTorch rows (default: on, off with --quick)",
    )
    parser.add_argument(
        "--tiny", action="store_true", help="a 2-block model of width 64: a smoke test only"
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help='run only these contenders (repeat the flag), e.g. --only "kerastack compiled"',
    )
    args = parser.parse_args()
    repeats = {"inference": 3, "latency": 10, "train_step": 3}
    if not args.quick:
        repeats = {"inference": 5, "latency": 30, "train_step": 5}
    compiled = not args.quick if args.compiled is None else args.compiled
    max_warmups = 4 if args.quick else timing.MAX_WARMUPS
    config, cases = (TINY, TINY_CASES) if args.tiny else (BASE, CASES)
    backend = keras.config.backend()
    keras.utils.set_random_seed(0)
    gemm = environment.gemm_rate()
    on_gpu = _on_gpu()
    device_gemm = backend_gemm_rate(args.dtype, 8192 if on_gpu else 2048)
    models = contenders(backend, args.dtype, config, compiled)
    if args.only:
        unknown = set(args.only) - set(models)
        if unknown:
            parser.error(f"--only: no contender {sorted(unknown)} here; there are {list(models)}")
        models = {name: model for name, model in models.items() if name in args.only}
    results = []
    for case, (batch, length) in cases.items():
        inputs = keras_inputs(batch, length, config)
        if case == "train_step":
            y = target(batch, length, config)
            runs = {n: m.train(inputs, y) for n, m in models.items() if m.train is not None}
        else:
            runs = {name: model.infer(inputs) for name, model in models.items()}
        tallies = {name: {"breaks": {}} for name in runs}
        if backend == "torch":
            runs = {name: tallied(run, tallies[name]) for name, run in runs.items()}
        figures = timing.interleaved(runs, repeats[case], max_warmups=max_warmups)
        if backend == "torch":
            for name, entry in figures.items():
                entry["dynamo"] = tallies[name]
        compare(figures)
        flops = case_flops(case, batch, length, config)
        for name, entry in figures.items():
            entry["gflop_per_s"] = flops / entry["median_s"] / 1e9
            entry["fraction_of_gemm"] = flops / entry["median_s"] / gemm["flops_per_s"]
            entry["fraction_of_backend_gemm"] = (
                flops / entry["median_s"] / device_gemm["flops_per_s"]
            )
            results.append({"case": case, "batch": batch, "length": length, "model": name, **entry})
            ratio = ""
            if entry.get("dynamo", {}).get("graphs"):
                tally = entry["dynamo"]
                ratio = f", {tally['graphs']} graphs, {sum(tally['breaks'].values())} breaks"
            if "vs_fastest_peer" in entry:
                ratio += f", {entry['vs_fastest_peer']:.2f}x {entry['fastest_peer']}" + (
                    " (uncertain)" if entry.get("uncertain") else ""
                )
            print(
                f"{case} {batch}x{length} {name}: median {entry['median_s'] * 1e3:.1f} ms, "
                f"min {entry['min_s'] * 1e3:.1f} ms{ratio} "
                f"(first call {entry['first_call_s']:.1f} s, {entry['warmups']} warm-ups), "
                f"{entry['fraction_of_gemm']:.0%} of NumPy's GEMM rate, "
                f"{entry['fraction_of_backend_gemm']:.0%} of the backend's",
                flush=True,
            )
    environment.write_report(
        args.out,
        "bert",
        results,
        extra_versions=["keras-hub", "transformers", "keras-bert", "tf-keras", "tf_keras"],
        model={
            **config,
            "name": "Tiny BERT for smoke tests" if args.tiny else "BERT-base",
            "dtype": args.dtype,
            "weights": "random",
        },
        gemm=gemm,
        backend_gemm=device_gemm,
        device="gpu" if on_gpu else "cpu",
        repeats=repeats,
        cases={case: list(shape) for case, shape in cases.items()},
        compiled=compiled and backend == "torch",
        warmup={"settle": timing.SETTLE, "max_warmups": max_warmups},
        flops={case: case_flops(case, *shape, config) for case, shape in cases.items()},
    )


if __name__ == "__main__":
    main()
