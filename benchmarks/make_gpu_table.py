"""Writes results/gpu-h200.md from the JSON reports of the device run.

    python benchmarks/make_gpu_table.py

The GPU figures come from one NVIDIA H200 lent to a development session
(`bert.py --quick --dtype float32|bfloat16` and `long_attention.py` on JAX
and PyTorch; TensorFlow was not installed there); their JSON files are
`results/*-h200.json`.
"""

import json
from pathlib import Path

import run

RESULTS = Path(__file__).resolve().parent / "results"


def main():
    def load(name):
        return json.loads((RESULTS / f"{name}-h200.json").read_text())

    parts = ["# BERT-base and long attention on one NVIDIA H200", ""]
    for dtype in ("float32", "bfloat16"):
        reports = [load(f"bert-{backend}-{dtype}") for backend in ("jax", "torch")]
        parts += [f"## BERT-base, {dtype}", "", run.bert_table(reports)]
    reports = [load(f"long_attention-{backend}") for backend in ("jax", "torch")]
    parts += ["## Attention over long sequences, float32", "", run.long_attention_table(reports)]
    (RESULTS / "gpu-h200.md").write_text("\n".join(parts))


if __name__ == "__main__":
    main()
