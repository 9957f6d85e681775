"""Side-by-side timing shared by the benchmarks.

Every contender's first call (tracing, compiling, allocating) is timed on its
own and kept out of the steady-state figures. Then the contender is warmed up:
called again until two consecutive calls (the first call included) take times
within `settle` (10%) of each other, or `max_warmups` calls have run; the
count is reported as `warmups` and those calls are not in `times_s` either.
Only then does each repeat run every contender once, in turn, so that slow
drifts of a shared machine fall on all of them alike. A callable must return
only once its result is on the host.

Each contender's entry holds `first_call_s`, `warmups`, `times_s` (the
repeats), `median_s`, `min_s` (the best repeat, the least disturbed on a
shared machine) and `spread_s` (`[min, max]`). `uncertain(a, b)` says when
two entries' medians are too close, for their spreads, to tell which is
faster.
"""

import statistics
import time

SETTLE = 0.1
MAX_WARMUPS = 10


def interleaved(contenders, repeats, settle=SETTLE, max_warmups=MAX_WARMUPS):
    """`{name: {"first_call_s", "warmups", "times_s", "median_s", "min_s",
    "spread_s"}}` of the callables in `contenders` (`{name: fn}`): each is
    called once, warmed up (see `warm_up`), then called `repeats` times,
    interleaved with the others."""
    figures = {}
    for name, run in contenders.items():
        first_call_s = _timed(run)
        figures[name] = {
            "first_call_s": first_call_s,
            "warmups": warm_up(run, first_call_s, settle, max_warmups),
            "times_s": [],
        }
    for _ in range(repeats):
        for name, run in contenders.items():
            figures[name]["times_s"].append(_timed(run))
    for entry in figures.values():
        summarize(entry)
    return figures


def warm_up(run, last_s, settle=SETTLE, max_warmups=MAX_WARMUPS):
    """Calls `run` until two consecutive calls take times within `settle` of
    each other (the difference at most `settle` times the shorter; `last_s`
    is the time of the call before the first warm-up), at most `max_warmups`
    times; returns how many calls it made (0 when `max_warmups` is 0)."""
    for count in range(1, max_warmups + 1):
        this_s = _timed(run)
        if abs(this_s - last_s) <= settle * min(this_s, last_s):
            return count
        last_s = this_s
    return max_warmups


def summarize(entry):
    """Adds the median, the minimum and the spread (min, max) of
    `entry["times_s"]`."""
    samples = entry["times_s"]
    entry["median_s"] = statistics.median(samples)
    entry["min_s"] = min(samples)
    entry["spread_s"] = [min(samples), max(samples)]
    return entry


def uncertain(a, b):
    """True when the spread (slowest minus fastest repeat) of entry `a` or of
    entry `b` is wider than the gap between their medians: the repeats
    overlap too much to say which of the two is faster, so a ratio of their
    medians should be read as a tie, not a ranking."""
    gap = abs(a["median_s"] - b["median_s"])
    return any(high - low > gap for low, high in (a["spread_s"], b["spread_s"]))


def _timed(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start
