"""Every public class and function documents itself with an Example that runs.

For each package in `PACKAGES`, every name in `kerastack.<pkg>.__all__` (and in
`kerastack.<pkg>.compat.__all__` where that module exists) must have a
docstring with an `Example:` (or `Examples:`) section holding at least one
`>>>` line, and its examples must pass under `doctest`. A class needs its own
class docstring; its methods' examples, where they have any, run too. A public
submodule (`kerastack.attention.functional`) is checked name by name through
its own `__all__`. A name re-exported from another package of `PACKAGES`
(`kerastack.bert`'s `ModelConfig`, from `kerastack.models`) is tested once,
in the package that defines and exports it.

Examples run in a copy of their defining module's globals, with `np` (NumPy)
added where the module has none, as in Keras's own docstrings. They must be
quick, deterministic on any CPU (print shapes, booleans or rounded numbers),
and touch no network and no files outside a temporary directory.

They run on one lane only, the torch lane, as issue 18 asks: the examples show
the same code that the package tests check on every lane.
"""

import doctest
import importlib
import inspect
import re
import types

import numpy as np
import pytest

from kerastack.core import keras, keras_version
from tests.conftest import lane_stack
from tests.packages import PACKAGES

# Every package of the repository (tests/packages.py).

EXAMPLE_LANE = (3, "torch")
OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

_on_example_lane = lane_stack() == EXAMPLE_LANE and (
    keras_version()[0] == 3 and keras.config.backend() == EXAMPLE_LANE[1]
)
pytestmark = pytest.mark.skipif(
    not _on_example_lane,
    reason=(
        "docstring examples run on the torch lane only: one lane, as issue 18 asks; "
        "the same code is tested on every lane by the package tests"
    ),
)

_HEADING = re.compile(r"^(\s*)Examples?:\s*$")
_NEXT_SECTION = re.compile(r"^(\s*)[A-Z][A-Za-z ]*:\s*$")


def _compat_module(pkg):
    name = f"kerastack.{pkg}.compat"
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def _public_names(module):
    # A module without __all__ lists nothing here; test_compat_all_lists_its_public_names
    # fails for it.
    return list(getattr(module, "__all__", ()))


def _entries():
    """(id, module that exports it, name) for every public name of PACKAGES."""
    entries = []
    for pkg in PACKAGES:
        modules = [(pkg, importlib.import_module(f"kerastack.{pkg}"))]
        compat = _compat_module(pkg)
        if compat is not None:
            modules.append((f"{pkg}.compat", compat))
        for prefix, module in modules:
            for name in _public_names(module):
                obj = getattr(module, name)
                if _is_own_module(obj):  # a public submodule: its own names
                    for inner in _public_names(obj):
                        entries.append((f"{prefix}.{name}.{inner}", obj, inner))
                elif _exported_at_home(pkg, obj):  # a re-export: tested once, at home
                    continue
                else:
                    entries.append((f"{prefix}.{name}", module, name))
    return entries


def _exported_at_home(pkg, obj):
    """Whether `obj`, a public name of `pkg`, is defined in another package of
    PACKAGES that exports it too (`kerastack.bert` re-exports
    `kerastack.models.ModelConfig`): its entry there tests it."""
    parts = (getattr(obj, "__module__", None) or "").split(".")
    if len(parts) < 2 or parts[0] != "kerastack" or parts[1] == pkg:
        return False
    home = parts[1]
    if home not in PACKAGES:
        return False
    modules = [importlib.import_module(f"kerastack.{home}"), _compat_module(home)]
    return any(
        getattr(module, name, None) is obj
        for module in modules
        if module is not None
        for name in _public_names(module)
    )


def _is_own_module(obj):
    return isinstance(obj, types.ModuleType) and obj.__name__.startswith("kerastack.")


def _own_docstring(obj):
    # A class's own docstring, never one inherited from its base.
    if inspect.isclass(obj):
        return vars(obj).get("__doc__") or ""
    return obj.__doc__ or ""


def _example_section(docstring):
    """The lines of the docstring's Example(s) section, or None without one."""
    lines = inspect.cleandoc(docstring).splitlines()
    for start, line in enumerate(lines):
        heading = _HEADING.match(line)
        if heading is None:
            continue
        indent = len(heading.group(1))
        section = []
        for later in lines[start + 1 :]:
            following = _NEXT_SECTION.match(later)
            if following is not None and len(following.group(1)) <= indent:
                break
            section.append(later)
        return section
    return None


ENTRIES = _entries()


@pytest.mark.parametrize(
    "module, name", [(module, name) for _, module, name in ENTRIES], ids=[e[0] for e in ENTRIES]
)
def test_docstring_example_runs(module, name):
    obj = getattr(module, name)
    if not (inspect.isclass(obj) or inspect.isroutine(obj)):
        pytest.skip(
            reason=f"{module.__name__}.{name} is a {type(obj).__name__}, not a class or function: "
            "it has no docstring of its own"
        )
    section = _example_section(_own_docstring(obj))
    assert section is not None, f"{module.__name__}.{name}: the docstring has no Example: section"
    assert any(line.lstrip().startswith(">>>") for line in section), (
        f"{module.__name__}.{name}: the Example: section has no >>> line"
    )

    home = importlib.import_module(obj.__module__)
    globs = dict(vars(home))
    globs.setdefault("np", np)
    finder = doctest.DocTestFinder(recurse=True, exclude_empty=True)
    tests = finder.find(obj, name=f"{module.__name__}.{name}", module=home, globs=globs)
    runner = doctest.DocTestRunner(optionflags=OPTIONFLAGS)
    report = []
    # An example may register classes in Keras's global custom objects (as
    # bert4keras's `export_to_custom_objects` does, with names such as
    # "AdamW"); they are taken out again so later tests load Keras's own.
    registered = dict(keras.saving.get_custom_objects())
    try:
        for test in tests:
            runner.run(test, out=report.append, clear_globs=True)
    finally:
        custom_objects = keras.saving.get_custom_objects()
        custom_objects.clear()
        custom_objects.update(registered)
    assert runner.tries > 0, f"{module.__name__}.{name}: doctest found no example to run"
    if runner.failures:
        pytest.fail("".join(report), pytrace=False)


@pytest.mark.parametrize("pkg", PACKAGES)
def test_compat_all_lists_its_public_names(pkg):
    compat = _compat_module(pkg)
    if compat is None:
        pytest.skip(reason=f"kerastack.{pkg} has no compat module")
    defined = {
        name
        for name, obj in vars(compat).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == compat.__name__
    }
    assert hasattr(compat, "__all__"), f"{compat.__name__} has no __all__"
    missing = defined - set(_public_names(compat))
    assert not missing, f"{compat.__name__}.__all__ lacks its public names {sorted(missing)}"
