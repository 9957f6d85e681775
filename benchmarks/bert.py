"""BERT-base on the active backend: kerastack against the libraries users
would pick instead, side by side in one process.

    KERAS_BACKEND=jax python benchmarks/bert.py --out results/bert-jax.json [--quick]

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
- on TensorFlow, keras-bert 0.89 on tf-keras 2.21 (inference only), the
  library kerastack succeeds. Keras 3 and tf-keras share the process: the
  kerastack seam picks Keras 3 first, then `TF_USE_LEGACY_KERAS=1` makes the
  `tensorflow.keras` that keras-bert imports tf-keras.

Keras models run through Keras's own compiled paths (`predict_on_batch`,
`train_on_batch`: XLA on TensorFlow, `jax.jit` on JAX, eager on PyTorch), so
no Keras library gets a different compiler. First calls (trace, compile) are
reported apart; each repeat runs every contender once, in turn. The report
also holds the machine's float32 GEMM rate, measured in the same process,
and each figure as a fraction of it (model FLOPs / time / GEMM rate).
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
PEERS = ("keras-hub", "transformers", "keras-bert")


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


def case_flops(case, batch, length):
    # A training step: forward, then the backward pass's two products per forward product.
    return forward_flops(batch, length) * (3 if case == "train_step" else 1)


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


def keras_inputs(batch, length, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "token_ids": rng.integers(1000, BASE["vocabulary_size"], (batch, length)).astype("int32"),
        "segment_ids": (np.arange(length) >= length // 2).astype("int32")[None].repeat(batch, 0),
        "padding_mask": np.ones((batch, length), "int32"),
    }


def target(batch, length, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, length, BASE["hidden_dim"])).astype("float32")


DTYPES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


class KerasContender:
    """A Keras 3 backbone whose inputs are `token_ids`, `segment_ids`,
    `padding_mask` and whose outputs hold `sequence_output`."""

    def __init__(self, backbone):
        self.backbone = backbone
        sequence = backbone.output["sequence_output"]
        self.model = keras.Model(backbone.input, sequence)
        self.model.compile(optimizer=keras.optimizers.AdamW(1e-5), loss="mse")

    def infer(self, inputs):
        return lambda: self.model.predict_on_batch(inputs)

    def train(self, inputs, y):
        return lambda: float(self.model.train_on_batch(inputs, y))


def kerastack_contender(dtype):
    return KerasContender(BertBackbone(**BASE, dtype=DTYPES[dtype]))


def keras_hub_contender(dtype):
    import keras_hub

    return KerasContender(keras_hub.models.BertBackbone(**BASE, dtype=DTYPES[dtype]))


class TransformersContender:
    """HF `transformers.BertModel` in PyTorch eager with SDPA attention (in
    bfloat16, the whole model is cast: transformers' own way)."""

    def __init__(self, dtype):
        import torch
        import transformers

        self.torch = torch
        config = transformers.BertConfig(
            vocab_size=BASE["vocabulary_size"],
            hidden_size=BASE["hidden_dim"],
            num_hidden_layers=BASE["num_layers"],
            num_attention_heads=BASE["num_heads"],
            intermediate_size=BASE["intermediate_dim"],
            max_position_embeddings=BASE["max_sequence_length"],
            attn_implementation="sdpa",
        )
        torch.manual_seed(0)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.dtype = getattr(torch, dtype)
        self.model = transformers.BertModel(config).to(self.device, self.dtype)
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
                return self.model(**tensors).last_hidden_state.float().cpu().numpy()

        return run

    def train(self, inputs, y):
        tensors = self.tensors(inputs)
        y = self.torch.from_numpy(y).to(self.device, self.dtype)
        if self.optimizer is None:
            self.optimizer = self.torch.optim.AdamW(self.model.parameters(), lr=1e-5)

        def run():
            self.model.train()
            self.optimizer.zero_grad()
            output = self.model(**tensors).last_hidden_state
            loss = self.torch.nn.functional.mse_loss(output, y)
            loss.backward()
            self.optimizer.step()
            return loss.item()

        return run


class KerasBertContender:
    """keras-bert 0.89's `get_model` on tf-keras (Keras 2), inference only."""

    def __init__(self, dtype):
        if dtype != "float32":
            raise ValueError("keras-bert runs in float32 only")
        os.environ["TF_USE_LEGACY_KERAS"] = "1"  # keras-bert's `tensorflow.keras`
        import keras_bert
        import tf_keras

        inputs, outputs = keras_bert.get_model(
            token_num=BASE["vocabulary_size"],
            head_num=BASE["num_heads"],
            transformer_num=BASE["num_layers"],
            embed_dim=BASE["hidden_dim"],
            feed_forward_dim=BASE["intermediate_dim"],
            seq_len=None,
            pos_num=BASE["max_sequence_length"],
            training=False,
        )
        self.model = tf_keras.Model(inputs, outputs)

    def infer(self, inputs):
        # keras-bert's inputs: token ids (0 is padding) and segment ids.
        arrays = [inputs["token_ids"], inputs["segment_ids"]]
        return lambda: self.model.predict_on_batch(arrays)

    train = None


def contenders(backend, dtype):
    """`{name: contender}`: kerastack first, then the peers installed here."""
    found = {"kerastack": kerastack_contender(dtype)}
    if importlib.util.find_spec("keras_hub") is not None:
        found["keras-hub"] = keras_hub_contender(dtype)
    if backend == "torch" and importlib.util.find_spec("transformers") is not None:
        found["transformers"] = TransformersContender(dtype)
    if (
        backend == "tensorflow"
        and dtype == "float32"
        and all(importlib.util.find_spec(name) is not None for name in ("keras_bert", "tf_keras"))
    ):
        found["keras-bert"] = KerasBertContender(dtype)
    return found


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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--dtype", choices=tuple(DTYPES), default="float32")
    args = parser.parse_args()
    repeats = {"inference": 3, "latency": 10, "train_step": 3}
    if not args.quick:
        repeats = {"inference": 5, "latency": 30, "train_step": 5}
    backend = keras.config.backend()
    keras.utils.set_random_seed(0)
    gemm = environment.gemm_rate()
    on_gpu = _on_gpu()
    device_gemm = backend_gemm_rate(args.dtype, 8192 if on_gpu else 2048)
    models = contenders(backend, args.dtype)
    results = []
    for case, (batch, length) in CASES.items():
        inputs = keras_inputs(batch, length)
        if case == "train_step":
            y = target(batch, length)
            runs = {n: m.train(inputs, y) for n, m in models.items() if m.train is not None}
        else:
            runs = {name: model.infer(inputs) for name, model in models.items()}
        figures = timing.interleaved(runs, repeats[case])
        flops = case_flops(case, batch, length)
        fastest_peer = min(
            (figures[name]["median_s"] for name in figures if name != "kerastack"), default=None
        )
        for name, entry in figures.items():
            entry["gflop_per_s"] = flops / entry["median_s"] / 1e9
            entry["fraction_of_gemm"] = flops / entry["median_s"] / gemm["flops_per_s"]
            entry["fraction_of_backend_gemm"] = (
                flops / entry["median_s"] / device_gemm["flops_per_s"]
            )
            if fastest_peer is not None:
                entry["vs_fastest_peer"] = entry["median_s"] / fastest_peer
            results.append({"case": case, "batch": batch, "length": length, "model": name, **entry})
            print(
                f"{case} {batch}x{length} {name}: median {entry['median_s'] * 1e3:.1f} ms "
                f"(first call {entry['first_call_s']:.1f} s), "
                f"{entry['fraction_of_gemm']:.0%} of NumPy's GEMM rate, "
                f"{entry['fraction_of_backend_gemm']:.0%} of the backend's",
                flush=True,
            )
    environment.write_report(
        args.out,
        "bert",
        results,
        extra_versions=["keras-hub", "transformers", "keras-bert", "tf-keras", "tf_keras"],
        model={**BASE, "dtype": args.dtype, "weights": "random"},
        gemm=gemm,
        backend_gemm=device_gemm,
        device="gpu" if on_gpu else "cpu",
        repeats=repeats,
        flops={case: case_flops(case, *shape) for case, shape in CASES.items()},
    )


if __name__ == "__main__":
    main()
