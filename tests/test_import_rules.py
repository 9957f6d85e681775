"""build_support/check_imports.py on small made-up trees: each rule fails, a clean tree passes.

The lint lane runs the script on the real tree; these tests only pin its rules.
"""

import importlib.util
import textwrap
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "build_support" / "check_imports.py"


@pytest.fixture(scope="module")
def checker():
    spec = importlib.util.spec_from_file_location("check_imports", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CORE = {
    "__init__.py": """
        from kerastack.core._impl import hidden_helper
        from kerastack.core.helpers import tool

        __all__ = ["tool", "hidden_helper", "_secret"]
        _secret = 1
    """,
    "_impl.py": """
        __all__ = ["hidden_helper"]

        def hidden_helper():
            return 1
    """,
    "helpers.py": """
        from kerastack.core._impl import hidden_helper

        __all__ = ["tool"]

        def tool():
            return hidden_helper()

        def unlisted():
            return 2
    """,
    "bare.py": """
        def thing():
            return 3
    """,
}

CLEAN_ATTENTION = {
    "__init__.py": """
        from kerastack.attention.layer import Layer

        __all__ = ["Layer"]
    """,
    "layer.py": """
        import kerastack.core as core_alias
        from kerastack import core
        from kerastack.attention import _util
        from kerastack.attention._util import helper
        from kerastack.core import tool
        from kerastack.core.helpers import tool as same_tool

        __all__ = ["Layer"]

        class Layer:
            def call(self):
                from kerastack.attention import late  # a submodule: no edge to __init__

                return core.tool() + core_alias.tool() + tool() + same_tool() + late.x + helper()
    """,
    "_util.py": """
        def helper():
            return 0
    """,
    "late.py": """
        from ._util import helper

        x = helper()
    """,
}


def write_package(root, name, siblings, files, siblings_line=None):
    folder = root / "packages" / name
    source = folder / "src" / "kerastack" / name
    source.mkdir(parents=True)
    line = siblings_line if siblings_line is not None else f"siblings = {siblings!r}"
    (folder / "pyproject.toml").write_text(
        f'[project]\nname = "kerastack-{name}"\n\n'
        f"[tool.hatch.metadata.hooks.custom]\n"
        f'path = "../../build_support/hatch_metadata.py"\n{line}\n'
    )
    for path, text in files.items():
        target = source / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip())


def check(checker, root, capsys, *args):
    code = checker.main(["--root", str(root), *args])
    out = capsys.readouterr().out
    return code, out


def problems(out):
    return [line for line in out.splitlines() if not line.startswith("check_imports:")]


@pytest.fixture
def tree(tmp_path):
    """A clean two-package tree: core at the bottom, attention on it."""
    write_package(tmp_path, "core", [], CORE)
    write_package(tmp_path, "attention", ["core"], CLEAN_ATTENTION)
    return tmp_path


def add_module(root, package, path, text):
    target = root / "packages" / package / "src" / "kerastack" / package / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(textwrap.dedent(text).lstrip())


def test_clean_tree_passes(checker, tree, capsys):
    code, out = check(checker, tree, capsys)
    assert code == 0, out
    assert out.strip() == "check_imports: ok (2 packages, 1 declared arrows, 8 modules checked)"


def test_only_package_source_is_checked(checker, tree, capsys):
    bad = "from kerastack.core._impl import hidden_helper\n"
    for folder in ("tests", "benchmarks", "examples", "packages/attention/tests"):
        (tree / folder).mkdir(parents=True)
        (tree / folder / "test_x.py").write_text(bad)
    code, out = check(checker, tree, capsys)
    assert code == 0, out


def test_lower_package_importing_a_higher_one_fails(checker, tree, capsys):
    add_module(
        tree, "core", "up.py", "# core reaching up\n\nfrom kerastack.attention import Layer\n"
    )
    code, out = check(checker, tree, capsys)
    assert code == 1
    assert problems(out) == [
        "packages/core/src/kerastack/core/up.py:3: kerastack.core imports kerastack.attention: "
        "'attention' is not in the siblings of packages/core/pyproject.toml (a package imports "
        "only the packages it declares, which sit below it)"
    ]


@pytest.mark.parametrize(
    "source",
    [
        "import kerastack.attention\n",
        "import kerastack.attention.layer as layer\n",
        "from kerastack import attention\n",
        "def f():\n    from kerastack.attention.layer import Layer\n",
        "import kerastack.core\n\nx = kerastack.attention.Layer\n",
    ],
)
def test_every_import_form_counts_as_an_arrow(checker, tree, capsys, source):
    add_module(tree, "core", "up.py", source)
    code, out = check(checker, tree, capsys)
    assert code == 1
    assert "kerastack.core imports kerastack.attention" in out


def test_cycle_in_declared_arrows_fails(checker, tmp_path, capsys):
    write_package(tmp_path, "core", ["attention"], {"__init__.py": "__all__ = []\n"})
    write_package(tmp_path, "attention", ["core"], {"__init__.py": "__all__ = []\n"})
    code, out = check(checker, tmp_path, capsys)
    assert code == 1
    assert problems(out) == [
        "packages/attention/pyproject.toml:1: declared package arrows form a cycle: "
        "attention -> core -> attention: the siblings lists must stack the packages in a "
        "tower, each above what it uses"
    ]


def test_missing_or_unknown_siblings_fail(checker, tmp_path, capsys):
    write_package(tmp_path, "core", [], {"__init__.py": ""}, siblings_line="")
    write_package(tmp_path, "attention", ["nope"], {"__init__.py": ""})
    code, out = check(checker, tmp_path, capsys)
    assert code == 1
    assert "attention' lists unknown sibling 'nope'" in out
    assert "package 'core' declares no siblings list" in out


@pytest.mark.parametrize(
    "source, expected",
    [
        # An underscore name fails even when __all__ lists it.
        ("from kerastack.core import _secret", "use of private name kerastack.core._secret"),
        ("from kerastack.core import unlisted", "use of unexported name kerastack.core.unlisted"),
        (
            "from kerastack.core._impl import hidden_helper",
            "import of private module kerastack.core._impl",
        ),
        ("from kerastack.core import _impl", "import of private module kerastack.core._impl"),
        ("import kerastack.core._impl", "import of private module kerastack.core._impl"),
        (
            "from kerastack.core.helpers import unlisted",
            "use of unexported name kerastack.core.helpers.unlisted",
        ),
        (
            "from kerastack.core.bare import thing",
            "use of kerastack.core.bare.thing: kerastack.core.bare defines no __all__",
        ),
        (
            "from kerastack import core\nx = core.unlisted",
            "use of unexported name kerastack.core.unlisted",
        ),
        (
            "import kerastack.core as c\nx = c._secret",
            "use of private name kerastack.core._secret",
        ),
        (
            "import kerastack.core.helpers\nx = kerastack.core.helpers.unlisted()",
            "use of unexported name kerastack.core.helpers.unlisted",
        ),
        (
            "from kerastack.core import helpers\nx = helpers.unlisted",
            "use of unexported name kerastack.core.helpers.unlisted",
        ),
        (
            "import kerastack.core as c\nx = c._impl.hidden_helper",
            "import of private module kerastack.core._impl",
        ),
        (
            "def f():\n    from kerastack.core import unlisted",
            "use of unexported name kerastack.core.unlisted",
        ),
    ],
)
def test_reaching_past_public_names_fails(checker, tree, capsys, source, expected):
    add_module(tree, "attention", "reach.py", source + "\n")
    code, out = check(checker, tree, capsys)
    assert code == 1
    found = problems(out)
    assert len(found) == 1, out
    assert found[0].startswith("packages/attention/src/kerastack/attention/reach.py:")
    assert expected in found[0]


def test_dynamic_all_cannot_be_checked(checker, tree, capsys):
    add_module(tree, "core", "dyn.py", "__all__ = [n for n in dir() if n[0] != '_']\n")
    add_module(tree, "attention", "reach.py", "from kerastack.core.dyn import thing\n")
    code, out = check(checker, tree, capsys)
    assert code == 1
    assert "the __all__ of kerastack.core.dyn is not a literal list of strings" in out


def test_all_built_in_steps_is_read(checker, tree, capsys):
    add_module(
        tree,
        "core",
        "steps.py",
        '__all__ = ["a"]\n__all__ += ["b"]\n__all__.append("c")\n__all__.extend(("d",))\n',
    )
    add_module(tree, "attention", "reach.py", "from kerastack.core.steps import a, b, c, d\n")
    code, out = check(checker, tree, capsys)
    assert code == 0, out


def test_module_cycle_hidden_in_a_function_fails_once(checker, tree, capsys):
    add_module(tree, "core", "a.py", "from kerastack.core.b import g\n\ndef f():\n    return g()\n")
    add_module(tree, "core", "b.py", "def g():\n    from kerastack.core import a\n    return a\n")
    code, out = check(checker, tree, capsys)
    assert code == 1
    assert problems(out) == [
        "packages/core/src/kerastack/core/a.py:1: import cycle in kerastack.core: a -> b -> a "
        "(a.py:1, b.py:2 in a function): modules of a package must not import each other in a "
        "circle (a function-level import only hides it); move the shared piece into a third "
        "module, and import sibling modules directly, not the package's __init__"
    ]


def test_longer_cycles_are_each_reported_once(checker, tree, capsys):
    add_module(tree, "core", "a.py", "import kerastack.core.b\nimport kerastack.core.c\n")
    add_module(tree, "core", "b.py", "from kerastack.core.c import x\n")
    add_module(tree, "core", "c.py", "x = 1\n\ndef f():\n    from kerastack.core import a\n")
    code, out = check(checker, tree, capsys)
    assert code == 1
    cycles = [line.split(": ")[2] for line in problems(out)]
    assert cycles == [
        "a -> b -> c -> a (a.py:1, b.py:1, c.py:4 in a function)",
        "a -> c -> a (a.py:2, c.py:4 in a function)",
    ]


def test_submodule_importing_its_package_init_is_a_cycle(checker, tree, capsys):
    # __init__ imports helpers; helpers taking a name from the __init__ closes a circle.
    add_module(
        tree,
        "core",
        "helpers.py",
        '__all__ = ["tool"]\n\ndef tool():\n    from kerastack.core import hidden_helper\n',
    )
    code, out = check(checker, tree, capsys)
    assert code == 1
    assert problems(out) == [
        "packages/core/src/kerastack/core/__init__.py:2: import cycle in kerastack.core: "
        "__init__ -> helpers -> __init__ (__init__.py:2, helpers.py:4 in a function): modules "
        "of a package must not import each other in a circle (a function-level import only "
        "hides it); move the shared piece into a third module, and import sibling modules "
        "directly, not the package's __init__"
    ]


def test_relative_imports_are_resolved(checker, tree, capsys):
    add_module(tree, "core", "a.py", "from .b import x\n")
    add_module(tree, "core", "b.py", "x = 1\n\ndef f():\n    from . import a\n")
    code, out = check(checker, tree, capsys)
    assert code == 1
    assert "import cycle in kerastack.core: a -> b -> a" in out


def test_allowlist_exempts_an_import(checker, tree, capsys, monkeypatch):
    add_module(tree, "attention", "reach.py", "from kerastack.core.helpers import unlisted\n")
    entry = ("packages/attention/src/kerastack/attention/reach.py", "kerastack.core.helpers")
    monkeypatch.setattr(checker, "ALLOWED", frozenset({(*entry, "unlisted")}))
    code, out = check(checker, tree, capsys)
    assert code == 0, out


def test_graph_prints_the_tower(checker, tree, capsys):
    code, out = check(checker, tree, capsys, "--graph")
    assert code == 0
    assert out.splitlines() == [
        "| Package | Declared arrows (siblings) | Imported | Modules | Lines of code |",
        "|---|---|---|---:|---:|",
        "| core | - | - | 4 | 15 |",
        "| attention | core | core | 4 | 17 |",
        "| **total** | | | 8 | 32 |",
    ]
