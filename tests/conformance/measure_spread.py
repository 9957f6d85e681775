"""How far transformers' float32 outputs move with the CPU's kernels.

The conformance references were recorded on one machine; the tests recompute
them live (torch lane) and compare kerastack with them on every lane. float32
results depend on the kernels PyTorch and its BLAS pick for the CPU (AVX-512
or AVX2 code, oneDNN or not, the number of threads), so a tolerance on a
recorded number must cover that spread. This measures it: run from the
repository root in the torch lane's environment,

    python -m tests.conformance.measure_spread

and it recomputes every recorded transformers output under each kernel
variant (each in a fresh process: ATEN_CPU_CAPABILITY is read at start-up)
and prints the largest difference from the recorded arrays, per array.
"""

import json
import os
import subprocess
import sys

import numpy as np

from tests.conformance import make_gpt2_reference as gpt2_refs
from tests.conformance import make_references as refs

# (name, environment, threads, oneDNN enabled)
VARIANTS = [
    ("default", {}, None, True),
    ("1 thread", {}, 1, True),
    ("avx2", {"ATEN_CPU_CAPABILITY": "avx2"}, None, True),
    ("no simd", {"ATEN_CPU_CAPABILITY": "default"}, None, True),
    ("no oneDNN", {}, None, False),
    ("avx2, no oneDNN, 1 thread", {"ATEN_CPU_CAPABILITY": "avx2"}, 1, False),
]


def live_differences():
    """`{array name: (max abs difference from the recorded one, max abs value)}`."""
    import torch
    import transformers

    differences = {}

    def record(name, live, recorded):
        live, recorded = np.asarray(live, "float64"), np.asarray(recorded, "float64")
        differences[name] = (float(np.abs(live - recorded).max()), float(np.abs(recorded).max()))

    eager = {"attn_implementation": "eager"}
    ids, segments, mask, sequence, pooled = refs.load_reference(refs.TINY_REFERENCE)
    tiny = transformers.BertModel.from_pretrained(refs.TINY_FOLDER, **eager).eval()
    live = refs.transformers_outputs(tiny, ids, segments, mask)
    record("tiny_bert sequence", live[0], sequence)
    record("tiny_bert pooled", live[1], pooled)

    ids, segments, mask, sequence, pooled = refs.load_reference(refs.MINILM_REFERENCE)
    minilm = transformers.BertModel.from_pretrained(refs.minilm_folder(), **eager).eval()
    live = refs.transformers_outputs(minilm, ids, segments, mask)
    record("minilm sequence", live[0], sequence)
    record("minilm pooled", live[1], pooled)

    for folder, (class_name, _) in refs.TASKS.items():
        path = os.path.join(refs.FIXTURES, folder)
        task = getattr(transformers, class_name).from_pretrained(path, **eager).eval()
        recorded = np.load(path + "_reference.npz")
        live = refs.task_outputs(task)
        record(f"{folder} first", live[3], recorded["arr_3"])
        record(f"{folder} second", live[4], recorded["arr_4"])

    gpt2 = transformers.GPT2LMHeadModel.from_pretrained(gpt2_refs.FOLDER, **eager).eval()
    recorded = dict(np.load(gpt2_refs.REFERENCE))
    ids, right, left = gpt2_refs.forward_inputs()
    with torch.no_grad():
        hidden, logits = gpt2_refs.forward(gpt2, ids, right)
        _, left_logits = gpt2_refs.forward(gpt2, ids, left, gpt2_refs.generation_positions(left))
    record("gpt2 hidden", hidden, recorded["hidden"])
    record("gpt2 logits", logits, recorded["logits"])
    record("gpt2 left_logits", left_logits, recorded["left_logits"])
    return differences


def kerastack_differences():
    """The same as `live_differences`, for kerastack's outputs on the running
    backend (the conformance tests' other side)."""
    from kerastack.bert import BertBackbone
    from kerastack.gpt import GPT2CausalLM

    differences = {}

    def record(name, ours, recorded, real):
        ours, recorded = np.asarray(ours, "float64"), np.asarray(recorded, "float64")
        difference = np.abs(ours - recorded)[real]
        differences[name] = (float(difference.max()), float(np.abs(recorded).max()))

    for name, folder, path in (
        ("tiny_bert", refs.TINY_FOLDER, refs.TINY_REFERENCE),
        ("minilm", refs.minilm_folder(), refs.MINILM_REFERENCE),
    ):
        ids, segments, mask, sequence, pooled = refs.load_reference(path)
        outputs = BertBackbone.from_pretrained(folder).predict(
            {"token_ids": ids, "segment_ids": segments, "padding_mask": mask}, verbose=0
        )
        record(f"{name} sequence", outputs["sequence_output"], sequence, mask.astype(bool))
        record(f"{name} pooled", outputs["pooled_output"], pooled, Ellipsis)

    recorded = dict(np.load(gpt2_refs.REFERENCE))
    model = GPT2CausalLM.from_pretrained(gpt2_refs.FOLDER)
    inputs = {"token_ids": recorded["ids"], "padding_mask": recorded["right_mask"]}
    real = recorded["right_mask"].astype(bool)
    hidden = model.backbone.predict(inputs, verbose=0)
    record("gpt2 hidden", np.asarray(hidden), recorded["hidden"], real)
    record("gpt2 logits", np.asarray(model.predict(inputs, verbose=0)), recorded["logits"], real)
    return differences


def _child(threads, onednn):
    import torch

    if threads:
        torch.set_num_threads(threads)
    torch.backends.mkldnn.enabled = onednn
    json.dump(live_differences(), sys.stdout)


def main():
    results = {}
    for name, environment, threads, onednn in VARIANTS:
        code = f"from tests.conformance.measure_spread import _child; _child({threads}, {onednn})"
        completed = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, **environment},
            capture_output=True,
            text=True,
            check=True,
        )
        results[name] = json.loads(completed.stdout.strip().splitlines()[-1])
    arrays = next(iter(results.values()))
    print(f"{'array':32s} {'max |value|':>11s} " + " ".join(f"{v[0]:>12.12s}" for v in VARIANTS))
    for array in arrays:
        scale = arrays[array][1]
        row = " ".join(f"{results[v[0]][array][0]:12.2e}" for v in VARIANTS)
        print(f"{array:32s} {scale:11.2f} {row}")


if __name__ == "__main__":
    main()
