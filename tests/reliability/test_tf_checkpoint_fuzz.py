"""Mutation fuzz of the TensorFlow checkpoint reader, seeded and sized by
FUZZ_CASES: every mutated checkpoint reads identically to the original or
is a documented error (`CheckpointError`/`ValueError`, `OSError`); never a
silent wrong read, never another exception. `nox -s fuzz` (or
`python -m tests.reliability.fuzz_tf_checkpoint --cases 20000`) runs it long."""

from tests.reliability.conftest import FUZZ_CASES
from tests.reliability.fuzz_tf_checkpoint import run, structured_run


def test_byte_mutations_never_read_wrong():
    summary = run(FUZZ_CASES, seed=17)
    assert summary["silent_wrong"] == 0, summary["examples"]["silent_wrong"]
    assert summary["other"] == 0, summary["examples"]["other"]
    assert set(summary["errors"]) <= {"CheckpointError", "FileNotFoundError"}, summary
    # Both kinds of outcome happen: the fuzz reaches the checks and spares some reads.
    assert summary["identical"] and summary["errors"]["CheckpointError"]
    assert sum(summary["errors"].values()) + summary["identical"] == FUZZ_CASES


def test_index_record_mutations_with_valid_checksums_are_caught_by_the_checks():
    summary = structured_run(FUZZ_CASES, seed=17)
    assert summary["other"] == 0, summary["examples"]["other"]
    assert summary["foreign"] == 0, summary["examples"]["foreign"]
    assert set(summary["errors"]) <= {"CheckpointError", "FileNotFoundError"}, summary
