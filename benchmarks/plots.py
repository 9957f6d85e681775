"""PNG plots of the benchmark reports (matplotlib, no display needed).

- `bert.png`: BERT-base throughput per backend and library: sequences per
  second at 8 x 128 (inference and training step) and inferences per second
  at 1 x 16, from the median repeat; kerastack's rows in blue, the others in
  grey, compiled rows (PyTorch's `torch.compile`) hatched;
- `long_attention.png`: attention time and peak memory against sequence
  length, per backend and contender.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CASES = (
    ("inference", "inference {}: sequences/s", lambda r: r["batch"] / r["median_s"]),
    ("latency", "latency {}: calls/s", lambda r: 1 / r["median_s"]),
    ("train_step", "training {}: sequences/s", lambda r: r["batch"] / r["median_s"]),
)
COMPILED = " compiled"


def bert(reports, path):
    figure, axes = plt.subplots(1, len(CASES), figsize=(5 * len(CASES), 4))
    for axis, (case, title, rate) in zip(axes, CASES, strict=True):
        labels, values, colors, hatches, shape = [], [], [], [], ""
        for report in reports:
            for r in report["results"]:
                if r["case"] != case:
                    continue
                shape = f"{r['batch']} x {r['length']}"
                labels.append(f"{report['backend']}\n{r['model']}")
                values.append(rate(r))
                library = r["model"].removesuffix(COMPILED)
                colors.append("tab:blue" if library == "kerastack" else "tab:gray")
                hatches.append("//" if r["model"].endswith(COMPILED) else "")
        bars = axis.bar(range(len(values)), values, color=colors, edgecolor="white")
        for bar, hatch in zip(bars, hatches, strict=True):
            bar.set_hatch(hatch)
        axis.set_xticks(range(len(values)), labels, rotation=60, ha="right", fontsize=7)
        axis.set_title(title.format(shape), fontsize=10)
    figure.suptitle(_machine(reports), fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def long_attention(reports, path):
    figure, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for report in reports:
        for contender in sorted({r["contender"] for r in report["results"]}):
            rows = sorted(
                (r for r in report["results"] if r["contender"] == contender),
                key=lambda r: r["length"],
            )
            lengths = [r["length"] for r in rows]
            style = "-" if contender == "kerastack" else "--"
            label = f"{report['backend']}: {contender}"
            time_axis.plot(lengths, [r["median_s"] for r in rows], style, marker="o", label=label)
            memory_axis.plot(
                lengths, [r["peak_vs_qkvo"] for r in rows], style, marker="o", label=label
            )
    for axis in (time_axis, memory_axis):
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set_xlabel("tokens (batch 1, 12 heads of 64)")
    time_axis.set_ylabel("seconds")
    memory_axis.set_ylabel("peak memory / (Q + K + V + output)")
    memory_axis.axhline(1.5, color="k", linewidth=0.5)
    memory_axis.legend(fontsize=6)
    figure.suptitle(_machine(reports), fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _machine(reports):
    machine, model = reports[0]["machine"], reports[0].get("model")
    dtype = model.get("dtype", "float32") if isinstance(model, dict) else "float32"
    return f"{machine['platform']}, {machine['cpu_count']} CPUs, {dtype}"


PLOTS = {"bert": bert, "long_attention": long_attention}
