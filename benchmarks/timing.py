"""Side-by-side timing shared by the benchmarks.

Every contender's first call (tracing, compiling, allocating) is timed on its
own and kept out of the steady-state figures; then each repeat runs every
contender once, in turn, so that slow drifts of a shared machine fall on all
of them alike. A callable must return only once its result is on the host.
"""

import statistics
import time


def interleaved(contenders, repeats):
    """`{name: {"first_call_s", "times_s", "median_s", "spread_s"}}` of the
    callables in `contenders` (`{name: fn}`), each called `1 + repeats` times."""
    figures = {}
    for name, run in contenders.items():
        start = time.perf_counter()
        run()
        figures[name] = {"first_call_s": time.perf_counter() - start, "times_s": []}
    for _ in range(repeats):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            figures[name]["times_s"].append(time.perf_counter() - start)
    for entry in figures.values():
        summarize(entry)
    return figures


def summarize(entry):
    """Adds the median and the spread (min, max) of `entry["times_s"]`."""
    samples = entry["times_s"]
    entry["median_s"] = statistics.median(samples)
    entry["spread_s"] = [min(samples), max(samples)]
    return entry
