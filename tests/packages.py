"""The kerastack packages of this repository, one per folder of `packages/`:
the tests that must cover every package read this list, so a new package is
covered the day its folder appears."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PACKAGES = sorted(
    path.name
    for path in (ROOT / "packages").iterdir()
    if (path / "pyproject.toml").is_file() and (path / "src" / "kerastack" / path.name).is_dir()
)
