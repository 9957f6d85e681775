"""Run the benchmarks, one process per backend, and write the tables.

    python benchmarks/run.py [--backend jax] [--quick] [--compiled | --no-compiled]
    python benchmarks/run.py --tables-only

Subjects, each run per backend in its own process (tokenizer: once):
- bert: `results/bert-<backend>.json`, `results/bert.md` and `results/bert.png`:
  BERT-base inference (8 x 128), latency (1 x 16) and a training step
  (8 x 128) of kerastack, keras-hub, transformers (PyTorch) and keras-bert
  (tf-keras, on the TensorFlow run), and on PyTorch the same compiled with
  `torch.compile` (rows "... compiled"; on by default, off with `--quick`
  unless `--compiled` is given), each as median and best repeat after
  warm-up, as a ratio of the fastest peer (flagged where the repeats' spread
  is wider than the gap) and as a fraction of the machine's GEMM rate;
- long_attention: `results/long_attention-<backend>.json`, `.md` and `.png`:
  attention time and peak memory against sequence length (1,024 to 8,192;
  `--quick`: 4,096 only);
- attention: `results/attention-<backend>.json` and `results/attention.md`, a
  table of medians with each kerastack layer's time as a ratio of
  `keras.layers.MultiHeadAttention`'s in the same run;
- decoding: `results/decoding-<backend>.json` and `results/decoding.md`,
  tokens per second of `decode` with and without the key/value cache
  (32, 64 and 128 tokens; `--quick`: 32);
- quantization: `results/quantization-<backend>.json` and
  `results/quantization.md`, all-MiniLM-L6-v2 quantized (int8, int4,
  float8) against float32 in the same process: time per batch of 8 x 128 as
  a ratio of float32's, the bytes of the weights, and the outputs'
  difference from float32's;
- tokenizer: `results/tokenizer-cpu.json` and `results/tokenizer.md`, texts
  and characters per second of kerastack's WordPiece tokenizer, keras-bert's
  and transformers', on one corpus, each as a ratio of keras-bert's. It does
  not depend on the Keras backend, so it runs once, under the first backend
  installed (`--backend` picks it).
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import plots

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BACKENDS = ("tensorflow", "jax", "torch")
PEER = "keras.layers.MultiHeadAttention"


def table(reports):
    lines = [
        "| backend | layer | batch x length | forward ms | vs peer | train step ms "
        "| vs peer | first forward s | first train s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for report in reports:
        peers = {(r["layer"], r["length"]): r for r in report["results"]}
        for r in report["results"]:
            peer = peers[(r.get("peer", PEER), r["length"])]
            lines.append(
                f"| {report['backend']} | {r['layer']} | {r['batch']} x {r['length']} "
                f"| {r['forward_median_s'] * 1e3:.1f} "
                f"| {r['forward_median_s'] / peer['forward_median_s']:.2f} "
                f"| {r['train_median_s'] * 1e3:.1f} "
                f"| {r['train_median_s'] / peer['train_median_s']:.2f} "
                f"| {r['forward_first_call_s']:.2f} | {r['train_first_call_s']:.2f} |"
            )
    machine = reports[0]["machine"]
    lines.append("")
    lines.append(
        f"Medians of {reports[0]['repeats']} interleaved repeats after the first call; "
        f"width {reports[0]['width']}, {reports[0]['heads']} heads, float32; 'vs peer': time "
        "over that of the layer it replaces (keras.layers.MultiHeadAttention for the attention "
        "layers, keras.layers.LayerNormalization, keras-hub's PositionEmbedding and "
        "TransformerEncoder). "
        f"Machine: {machine['platform']}, {machine['cpu_count']} CPUs, "
        f"Python {machine['python']}; Keras {reports[0]['versions'].get('keras')}."
    )
    return "\n".join(lines) + "\n"


def decoding_table(reports):
    lines = [
        "| backend | batch x tokens | cached tok/s | uncached tok/s | cache speedup "
        "| first call cached s | first call uncached s |",
        "|---|---|---|---|---|---|---|",
    ]
    for report in reports:
        for r in report["results"]:
            lines.append(
                f"| {report['backend']} | {r['batch']} x {r['length']} "
                f"| {r['cached']['tokens_per_s']:.0f} | {r['uncached']['tokens_per_s']:.0f} "
                f"| {r['speedup']:.2f}x | {r['cached']['first_call_s']:.2f} "
                f"| {r['uncached']['first_call_s']:.2f} |"
            )
    machine = reports[0]["machine"]
    lines.append("")
    lines.append(
        f"Greedy decoding, medians of {reports[0]['repeats']} interleaved repeats after the "
        f"first call; {reports[0]['model']}; float32. Machine: {machine['platform']}, "
        f"{machine['cpu_count']} CPUs, Python {machine['python']}; "
        f"Keras {reports[0]['versions'].get('keras')}."
    )
    return "\n".join(lines) + "\n"


def quantization_table(reports):
    lines = [
        "| backend | mode | 8 x 128 ms | vs float32 | best vs best | weights MB | vs float32 "
        "| quantized layers MB (float32) | sequence max abs diff | token cosine min / mean "
        "| sentence cosine min | quantize s | first call s | RSS added MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for report in reports:
        for r in report["results"]:
            d = r.get("difference")
            quantized = (
                f"{r['quantized_layer_bytes'] / 1e6:.1f} "
                f"({r['quantized_layer_float32_bytes'] / 1e6:.1f})"
                if d is not None
                else "—"
            )
            rss = r.get("rss_added_bytes")
            lines.append(
                f"| {report['backend']} | {r['mode']} "
                f"| {r['median_s'] * 1e3:.0f} | {r['vs_float32']:.2f}x "
                f"| {r['best_vs_float32_best']:.2f}x "
                f"| {r['weight_bytes'] / 1e6:.1f} | {r['weights_vs_float32']:.2f}x "
                f"| {quantized} "
                + (
                    f"| {d['sequence_max_abs']:.3f} (of {d['sequence_float32_max_abs']:.2f}) "
                    f"| {d['token_cosine_min']:.4f} / {d['token_cosine_mean']:.4f} "
                    f"| {d['sentence_cosine_min']:.4f} "
                    if d is not None
                    else "| — | — | — "
                )
                + f"| {r['quantize_s']:.1f} | {r['first_call_s']:.1f} "
                f"| {'—' if rss is None else f'{rss / 1e6:.0f}'} |"
            )
    report = reports[0]
    model, machine = report["model"], report["machine"]
    lines.append("")
    lines.append(
        f"{model['name']} ({model['weights']} weights; {model['num_layers']} blocks, width "
        f"{model['hidden_dim']}) as kerastack's BertBackbone, float32 and `quantize(mode)`, "
        f"on one batch of {report['batch']} texts x {report['length']} tokens "
        f"({report['real_tokens']} real; {report['texts']}); medians of "
        f"{_repeats_of(reports)} interleaved repeats after the first call, every copy in "
        "one process, so 'vs float32' (ratio of medians) is measured side by side; 'best vs "
        "best': the ratio of the fastest repeats, the least disturbed on a shared machine. "
        "Weights: the bytes of the "
        "model's variables (exact; MB = 10^6 bytes); 'quantized layers': those of the layers "
        "`quantize` replaced, with the same layers' float32 bytes (int8 and int4 include the "
        "embedding tables; float8 quantizes Dense and EinsumDense only, and keeps their float "
        "kernels). Differences from float32, on the real tokens: the sequence output's "
        "largest absolute difference (of its largest float32 value), the cosine similarity "
        "of each token's vector and of each text's mean-pooled sentence embedding. RSS "
        "added: resident memory from before a copy was loaded to after its first call "
        "(approximate: the allocator keeps some of what it frees); the process's peak RSS "
        "with every copy loaded: "
        + ", ".join(f"{r['backend']} {r['peak_rss_bytes'] / 1e6:.0f} MB" for r in reports)
        + ". "
        f"Machine: {machine['platform']}, {machine['cpu_count']} CPUs shared with other "
        "work while it ran, so absolute times are loose and only the side-by-side ratios "
        f"are meaningful; Python {machine['python']}; "
        f"Keras {report['versions'].get('keras')}."
    )
    return "\n".join(lines) + "\n"


def _repeats_of(reports):
    counts = {r["backend"]: r["repeats"] for r in reports}
    if len(set(counts.values())) == 1:
        return str(next(iter(counts.values())))
    return ", ".join(f"{backend} {count}" for backend, count in counts.items())


def tokenizer_table(reports):
    (report,) = reports
    lines = [
        "| tokenizer | texts/s | spread texts/s | M chars/s | vs keras-bert "
        "| same ids as kerastack |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in report["results"].items():
        low, high = r["texts_per_s_spread"]
        same = r.get("same_ids_as_kerastack")
        lines.append(
            f"| {name} | {r['texts_per_s']:.0f} | {low:.0f}–{high:.0f} "
            f"| {r['characters_per_s'] / 1e6:.2f} | {r['vs_keras_bert']:.1f}x "
            f"| {'—' if same is None else f'{same:.1%}'} |"
        )
    machine, corpus = report["machine"], report["corpus"]
    lines.append("")
    lines.append(
        f"Corpus: {corpus['texts']} texts, {corpus['characters']} characters (standard-library "
        f"docstrings, installed packages' descriptions, a multilingual sample), whole texts, "
        f"batches of {report['batch']}; medians of {report['repeats']} interleaved repeats; "
        f"{report['vocabulary']}. Machine: {machine['platform']}, {machine['cpu_count']} CPUs, "
        f"Python {machine['python']}; "
        + ", ".join(
            f"{name} {report['versions'][name]}"
            for name in ("tokenizers", "transformers", "keras-bert")
            if name in report["versions"]
        )
        + "."
    )
    return "\n".join(lines) + "\n"


BERT_CASES = {"inference": (8, 128), "latency": (1, 16), "train_step": (8, 128)}
UNCERTAIN = "†"


def bert_table(reports):
    """The markdown table of `bert.py` reports (one per backend): per model
    and case the median (and best) time, the ratio to the fastest peer
    (marked † where the repeats' spreads are wider than the gap), the
    warm-up counts and the first calls. Reports from before warm-ups and
    best repeats were recorded render with "—" in their place."""
    shapes = reports[0].get("cases", BERT_CASES)
    shape = {case: " x ".join(str(n) for n in shapes[case]) for case in BERT_CASES}
    lines = [
        f"| backend | model | inference {shape['inference']} ms (best) | vs fastest peer "
        f"| of GEMM rate | latency {shape['latency']} ms (best) | vs fastest peer "
        f"| train step {shape['train_step']} ms (best) | vs fastest peer "
        "| warm-ups (inference / latency / train) | first calls s (inference / latency / train) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    flagged = False
    for report in reports:
        by_model = {}
        for r in report["results"]:
            by_model.setdefault(r["model"], {})[r["case"]] = r
        for model, cases in by_model.items():
            cells = [report["backend"], model]
            for case in BERT_CASES:
                r = cases.get(case)
                if r is None:
                    cells += ["—", "—"] + (["—"] if case == "inference" else [])
                    continue
                best = r.get("min_s", r["spread_s"][0])
                cells.append(f"{_ms(r['median_s'])} ({_ms(best)})")
                ratio = "—"
                if "vs_fastest_peer" in r:
                    ratio = f"{r['vs_fastest_peer']:.2f}x"
                    if r.get("uncertain"):
                        ratio += f" {UNCERTAIN}"
                        flagged = True
                cells.append(ratio)
                if case == "inference":
                    gpu = report.get("device") == "gpu"
                    cells.append(
                        f"{r['fraction_of_backend_gemm' if gpu else 'fraction_of_gemm']:.0%}"
                    )
            for key, form in (("warmups", "{}"), ("first_call_s", "{:.1f}")):
                cells.append(
                    " / ".join(
                        form.format(cases[c][key]) if key in cases.get(c, {}) else "—"
                        for c in BERT_CASES
                    )
                )
            lines.append("| " + " | ".join(cells) + " |")
    report = reports[0]
    machine, model = report["machine"], report["model"]
    gpu = report.get("device") == "gpu"
    if gpu:
        rates = ", ".join(
            f"{r['backend']} {r['backend_gemm']['flops_per_s'] / 1e12:.0f} TFLOP/s" for r in reports
        )
        limit = f"the backend's own {model['dtype']} GEMM rate on the GPU ({rates})"
    else:
        rates = ", ".join(f"{r['backend']} {r['gemm']['flops_per_s'] / 1e9:.0f}" for r in reports)
        limit = f"NumPy's float32 GEMM rate in the same process ({rates} GFLOP/s)"
    compiled = any(r["model"].endswith(" compiled") for rep in reports for r in rep["results"])
    warmed = any("warmups" in r for rep in reports for r in rep["results"])
    lines.append("")
    lines.append(
        f"{model.get('name', 'BERT-base')} ({model['num_layers']} blocks, width "
        f"{model['hidden_dim']}, random weights), {model['dtype']}; "
        f"medians (and best) of {_repeats(reports)}"
        + " interleaved repeats (inference / latency / training) after the first call"
        + (
            " and warm-up calls until two consecutive calls took times within 10% of each "
            f"other (at most {_max_warmups(reports)}; 'warm-ups' counts them)"
            if warmed
            else ""
        )
        + ". "
        "'vs fastest peer': time over that of the fastest row of another library than "
        "kerastack on the same backend, compiled or eager (below 1 is faster; the same "
        "yardstick for every row of a column, so the row that sets it reads 1.00x)"
        + (
            f"; {UNCERTAIN}: the row's spread of repeats (slowest minus fastest), or the "
            "yardstick's, is wider than the gap between their medians, so the ratio is a tie, "
            "not a ranking"
            if flagged
            else ""
        )
        + f". 'of GEMM rate': model FLOPs / time over {limit}. "
        + (
            "'compiled' rows: PyTorch with `torch.compile`, through Keras's "
            "`compile(jit_compile=True)` for the Keras libraries and `torch.compile(model)` for "
            "transformers; their first calls are the compile times. " + _dynamo_tallies(reports)
            if compiled
            else ""
        )
        + f"Machine: {machine['platform']}, {machine['cpu_count']} CPUs, "
        f"Python {machine['python']}; Keras {report['versions'].get('keras')}."
    )
    return "\n".join(lines) + "\n"


def _max_warmups(reports):
    """The reports' cap on warm-up calls: '10', or per backend where they differ."""
    caps = {r["backend"]: str(r.get("warmup", {}).get("max_warmups", 10)) for r in reports}
    if len(set(caps.values())) == 1:
        return next(iter(caps.values()))
    return ", ".join(f"{backend} {cap}" for backend, cap in caps.items())


def _dynamo_tallies(reports):
    """The sentence giving, per compiled row, the graphs TorchDynamo captured
    and the graph breaks it met while the row ran (first call included), or
    "" where the reports predate these tallies."""
    rows = []
    for report in reports:
        by_model = {}
        for r in report["results"]:
            if r["model"].endswith(" compiled") and "dynamo" in r:
                by_model.setdefault(r["model"], {})[r["case"]] = r["dynamo"]
        for model, cases in by_model.items():
            counts = "; ".join(
                f"{cases[c]['graphs']}/{sum(cases[c]['breaks'].values())}" if c in cases else "—"
                for c in BERT_CASES
            )
            rows.append(f"{model} {counts}")
    if not rows:
        return ""
    return (
        "TorchDynamo's graphs / graph breaks while each compiled row ran (inference; latency; "
        "train): " + ", ".join(rows) + " (compiled Keras models share Dynamo's state in one "
        "process; see `benchmarks/bert.py`). "
    )


def _ms(seconds):
    """Milliseconds, whole above 100 ms, else to one decimal."""
    return f"{seconds * 1e3:.{0 if seconds > 0.1 else 1}f}"


def _repeats(reports):
    """'3 / 10 / 3', or per backend where the reports differ."""
    counts = {
        r["backend"]: " / ".join(
            str(r["repeats"][c]) for c in ("inference", "latency", "train_step")
        )
        for r in reports
    }
    if len(set(counts.values())) == 1:
        return next(iter(counts.values()))
    return ", ".join(f"{backend} {count}" for backend, count in counts.items())


def long_attention_table(reports):
    lines = [
        "| backend | attention | tokens | ms | peak memory / (Q+K+V+output) "
        "| full score matrix MB |",
        "|---|---|---|---|---|---|",
    ]
    for report in reports:
        for r in report["results"]:
            lines.append(
                f"| {report['backend']} | {r['contender']} | {r['length']} "
                f"| {r['median_s'] * 1e3:.0f} | {r['peak_vs_qkvo']:.2f}x "
                f"| {r['full_scores_bytes'] / 2**20:.0f} |"
            )
    machine = reports[0]["machine"]
    lines.append("")
    lines.append(
        f"Batch {reports[0]['batch']}, {reports[0]['heads']} heads of width "
        f"{reports[0]['head_width']}, float32, a padding mask on the last sixteenth of the "
        f"keys; medians of {reports[0]['repeats']} repeats after the first call. Peak memory: "
        "Q, K, V plus what the call added at its peak (the process's high-water mark; the "
        "allocator's peak on TensorFlow and on GPUs), over Q, K, V and the output together "
        "(1.00x is the "
        f"least possible). Machine: {machine['platform']}, {machine['cpu_count']} CPUs."
    )
    return "\n".join(lines) + "\n"


SUBJECTS = {
    "bert": bert_table,
    "long_attention": long_attention_table,
    "attention": table,
    "decoding": decoding_table,
    "quantization": quantization_table,
    "tokenizer": tokenizer_table,
}
# Subjects that do not depend on the Keras backend: run once, under one backend.
ONCE = {"tokenizer": "cpu"}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=BACKENDS, action="append")
    parser.add_argument("--subject", choices=tuple(SUBJECTS), action="append")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--compiled",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="bert: the compiled PyTorch rows (default: on, off with --quick)",
    )
    parser.add_argument(
        "--tables-only",
        action="store_true",
        help="run nothing: rebuild the tables and plots from the JSON files in results/ "
        "(after re-running one backend or subject, say)",
    )
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    started = time.perf_counter()
    elapsed = []
    for subject in args.subject or SUBJECTS:
        reports = []
        backends = args.backend or BACKENDS
        if subject in ONCE:
            # Keras still needs a backend to import: the first one installed.
            installed = [b for b in backends if importlib.util.find_spec(b) is not None]
            backends = installed[:1] or backends[:1]
        for backend in backends:
            out = RESULTS / f"{subject}-{ONCE.get(subject, backend)}.json"
            if args.tables_only:
                if out.exists():
                    reports.append(json.loads(out.read_text()))
                continue
            command = [sys.executable, str(HERE / f"{subject}.py"), "--out", str(out)]
            if args.quick:
                command.append("--quick")
            if subject == "bert" and args.compiled is not None:
                command.append("--compiled" if args.compiled else "--no-compiled")
            print(f"== {subject} on {backend}", flush=True)
            env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
            began = time.perf_counter()
            subprocess.run(command, check=True, env=env)
            elapsed.append((subject, backend, time.perf_counter() - began))
            reports.append(json.loads(out.read_text()))
        if not reports:
            continue
        markdown = SUBJECTS[subject](reports)
        (RESULTS / f"{subject}.md").write_text(markdown)
        print(markdown)
        if subject in plots.PLOTS:
            plots.PLOTS[subject](reports, RESULTS / f"{subject}.png")
    # Wall time of each run (imports and compiles included), so the
    # quick mode's length is measured, not guessed.
    for subject, backend, seconds in elapsed:
        print(f"{subject} on {backend}: {seconds / 60:.1f} min")
    print(f"all benchmarks: {(time.perf_counter() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
