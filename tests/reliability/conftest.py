"""Reliability tests: every outcome of bad or odd input is either the correct
result or one of kerastack's documented errors (docs/errors.md).

The default hypothesis profile ("ci") keeps each lane's reliability tests
under two minutes; `nox -s fuzz` runs them with the "fuzz" profile and many
more mutation cases (KERASTACK_FUZZ_CASES), for long runs.
"""

import os

from hypothesis import HealthCheck, settings

# Seeded and bounded: the same cases on every run and every machine.
settings.register_profile(
    "ci",
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("KERASTACK_FUZZ_EXAMPLES", "400")),
    derandomize=False,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
settings.load_profile(os.environ.get("KERASTACK_HYPOTHESIS_PROFILE", "ci"))

# How many mutated files the mutation fuzzers try: a few hundred in the test
# lanes, tens of thousands under `nox -s fuzz`.
FUZZ_CASES = int(os.environ.get("KERASTACK_FUZZ_CASES", "300"))
