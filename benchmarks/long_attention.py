"""Attention over long sequences: time and peak memory on the active backend.

    KERAS_BACKEND=jax python benchmarks/long_attention.py --out results/long_attention-jax.json

Batch 1, 12 heads of width 64 (BERT-base's width 768), self-attention over
1,024 to 8,192 tokens (`--quick`: 4,096 only), float32. Contenders, each compiled the same way
(`kerastack.core.compile_function`: XLA on TensorFlow, `jax.jit` on JAX,
eager on PyTorch):

- `kerastack`: `kerastack.attention.ScaledDotProductAttention` (the kernel
  under every kerastack attention layer), with a padding mask;
- `keras.ops.dot_product_attention` with the same mask.

Peak memory is the most the process held while the call ran: each case runs
in a fresh process that makes Q, K, V and the mask, compiles and runs the
call once, then, with freed memory handed back to the system
(`malloc_trim`) and the kernel's high-water mark reset (`/proc/self/clear_refs`),
runs it again and reads the high-water mark (`VmHWM`). The figure is the
memory held for Q, K, V plus what the call added (its output included), as
a multiple of Q, K, V and the output together; 1.0 is the least possible.
On TensorFlow (which keeps freed memory for reuse) and on GPUs the
backend's allocator's peak is read instead. Times are medians of
repeats after the first call, the clock stopping once the output is NumPy.
"""

import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
import time

import timing

HEADS, HEAD_WIDTH, BATCH = 12, 64, 1
CONTENDERS = ("kerastack", "keras.ops.dot_product_attention")


def status_bytes(field):
    """`VmRSS` / `VmHWM` of this process in bytes (Linux)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def release_and_reset():
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # the high-water mark restarts from the current size


def measure_case(contender, length, repeats):
    import keras
    import numpy as np

    from kerastack.attention import ScaledDotProductAttention
    from kerastack.core import compile_function, ops

    rng = np.random.default_rng(0)
    shape = (BATCH, length, HEADS, HEAD_WIDTH)
    q, k, v = (ops.convert_to_tensor(rng.standard_normal(shape, dtype=np.float32)) for _ in "qkv")
    lengths = np.full((BATCH,), length - length // 16)  # the last sixteenth is padding
    mask = ops.convert_to_tensor(np.arange(length)[None, :] < lengths[:, None])  # (B, S)
    if contender == "kerastack":
        layer = ScaledDotProductAttention()

        def fn(q, k, v, mask):
            return layer(q, v, k, value_mask=mask)
    else:

        def fn(q, k, v, mask):
            return keras.ops.dot_product_attention(q, k, v, mask=mask[:, None, None, :])

    run = compile_function(fn, [])
    allocator = _allocator_peak()
    start = time.perf_counter()
    ops.convert_to_numpy(run(q, k, v, mask))
    first_call_s = time.perf_counter() - start
    if allocator is None:
        release_and_reset()
        before = status_bytes("VmRSS")
        output = ops.convert_to_numpy(run(q, k, v, mask))
        added = status_bytes("VmHWM") - before
        del output
    else:
        added = allocator(lambda: ops.convert_to_numpy(run(q, k, v, mask)))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        ops.convert_to_numpy(run(q, k, v, mask))
        times.append(time.perf_counter() - start)
    tensor_bytes = 4 * BATCH * length * HEADS * HEAD_WIDTH
    return {
        "contender": contender,
        "length": length,
        "device": _device(),
        "memory_from": "process high-water mark" if allocator is None else "allocator peak",
        "first_call_s": first_call_s,
        **timing.summarize({"times_s": times}),
        "added_bytes": added,
        "qkvo_bytes": 4 * tensor_bytes,
        "peak_vs_qkvo": (3 * tensor_bytes + added) / (4 * tensor_bytes),
        "full_scores_bytes": 4 * BATCH * HEADS * length * length,
    }


def _device():
    import keras

    backend = keras.config.backend()
    if backend == "jax":
        import jax

        return jax.default_backend()
    if backend == "torch":
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    import tensorflow as tf

    return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"


def _allocator_peak():
    """A function measuring the memory a call adds at its peak, read from the
    backend's allocator, or None where only the process's high-water mark
    tells (JAX and PyTorch on CPU). TensorFlow keeps freed memory for reuse,
    which hides a call's peak from the process's high-water mark, but its
    allocator counts it (on CPU as on GPU)."""
    import keras

    backend, device = keras.config.backend(), _device()
    if backend == "tensorflow":
        import tensorflow as tf

        name = "GPU:0" if device == "gpu" else "CPU:0"

        def peak(call):
            before = tf.config.experimental.get_memory_info(name)["current"]
            tf.config.experimental.reset_memory_stats(name)
            call()
            return tf.config.experimental.get_memory_info(name)["peak"] - before

        return peak
    if device == "cpu":
        return None
    if backend == "torch":
        import torch

        def peak(call):
            torch.cuda.synchronize()
            before = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            call()
            return torch.cuda.max_memory_allocated() - before

        return peak
    import jax

    device = jax.devices()[0]

    def peak(call):  # a fresh process: the peak so far is this case's
        before = device.memory_stats()["bytes_in_use"]
        call()
        return device.memory_stats()["peak_bytes_in_use"] - before

    return peak


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="4,096 tokens only, 2 repeats")
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # "contender@length": one case
    args = parser.parse_args()
    repeats = 2 if args.quick else 5
    if args.case:
        contender, length = args.case.rsplit("@", 1)
        with open(args.out, "w") as handle:
            json.dump(measure_case(contender, int(length), repeats), handle)
        return
    import environment

    lengths = [4096] if args.quick else [1024, 2048, 4096, 8192]
    results = []
    for length in lengths:
        for contender in CONTENDERS:
            case_out = args.out + ".case"
            env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="0")
            command = [
                sys.executable,
                __file__,
                "--out",
                case_out,
                "--case",
                f"{contender}@{length}",
            ]
            subprocess.run(command + (["--quick"] if args.quick else []), check=True, env=env)
            with open(case_out) as handle:
                result = json.load(handle)
            os.remove(case_out)
            results.append(result)
            print(
                f"{contender} at {length}: {result['median_s'] * 1e3:.1f} ms, peak "
                f"{result['peak_vs_qkvo']:.2f}x Q+K+V+output",
                flush=True,
            )
    environment.write_report(
        args.out,
        "long_attention",
        results,
        batch=BATCH,
        heads=HEADS,
        head_width=HEAD_WIDTH,
        repeats=repeats,
    )


if __name__ == "__main__":
    main()
