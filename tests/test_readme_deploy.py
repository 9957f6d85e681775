"""The README's "Deploy" section runs: its Python blocks, in order, in one
namespace (a later block uses what an earlier one made), on every Keras 3
lane. Each block prints what it shows: a `print(...)  # value: ...` line must
print that value (the comment up to its first colon), any other print `True`."""

import contextlib
import io
import re
from pathlib import Path

import pytest

from kerastack.core import keras_version

README = Path(__file__).resolve().parent.parent / "README.md"

pytestmark = pytest.mark.skipif(
    keras_version()[0] != 3,
    reason="the Deploy section (quantization, LoRA, export) is Keras 3's; Keras 2 lanes lack it",
)


def deploy_blocks(text):
    """The ```python blocks of the README's "## Deploy" section."""
    match = re.search(r"^## Deploy\n(.*?)(?=^## )", text, flags=re.S | re.M)
    assert match, "README.md has no '## Deploy' section"
    return re.findall(r"^```python\n(.*?)^```", match.group(1), flags=re.S | re.M)


def test_the_deploy_section_has_its_parts():
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## Deploy\n(.*?)(?=^## )", text, flags=re.S | re.M).group(1)
    headings = re.findall(r"^### (.*)$", section, flags=re.M)
    for part in ("Quantize", "LoRA", "Export", "text", "name"):
        assert any(part.lower() in heading.lower() for heading in headings), (part, headings)
    assert len(deploy_blocks(text)) >= 5


def test_the_deploy_section_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme_deploy"}
    for number, block in enumerate(deploy_blocks(README.read_text(encoding="utf-8")), 1):
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile(block, f"README.md Deploy block {number}", "exec"), namespace)
        printed = output.getvalue().splitlines()
        promised = [
            (match.group(1) or "True: ").split(":")[0].strip()
            for match in re.finditer(r"^print\(.*?\)(?:  # (.*))?$", block, flags=re.M)
        ]
        assert promised, f"block {number} prints nothing to check"
        assert printed == promised, f"block {number} printed {printed}, the README says {promised}"
