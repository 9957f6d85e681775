"""Static check of the import rules between and inside kerastack packages.

Reads the source only (the ``ast`` of every module under ``packages/*/src``);
imports nothing from kerastack and needs no Keras. It fails, with one line per
problem (``file:line: what: why``), when:

1. a package imports a kerastack package that its ``pyproject.toml`` does not
   list in ``[tool.hatch.metadata.hooks.custom] siblings`` (its declared
   arrows), or the declared arrows themselves form a cycle;
2. a package reaches into another one past its public names: an underscore
   name or module, a name missing from the ``__all__`` of the module it comes
   from (``from kerastack.X import name``, ``from kerastack.X.mod import name``,
   ``X.name`` after ``from kerastack import X``), or a module with no
   ``__all__``;
3. modules of one package import each other in a circle, imports inside
   functions included. ``from kerastack.P import name`` (a name, not a
   submodule) is an edge to ``P/__init__.py``, which imports every submodule:
   a submodule should import its sibling modules directly.

Packages are found from the folders (``packages/<name>/src/kerastack/<name>``),
never from a list. Tests, benchmarks and examples are not checked.

    python build_support/check_imports.py            # check; a summary on success
    python build_support/check_imports.py --graph    # the arrows as a Markdown table
"""

import argparse
import ast
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "kerastack"

# Imports the rules would refuse but that are allowed on purpose, each with the
# reason. An entry is (file relative to the root, the imported module, the
# name or None for the whole module), e.g.
#   ("packages/gpt/src/kerastack/gpt/x.py", "kerastack.bert.y", "_z"),  # why
# Empty: nothing in the tree needs one.
ALLOWED = frozenset()

# Attributes every module has; reading them is not reaching into a package.
MODULE_ATTRIBUTES = frozenset(
    {"__name__", "__file__", "__doc__", "__path__", "__spec__", "__all__", "__package__"}
)


@dataclass
class Module:
    name: str  # dotted: kerastack.bert.tokenizer
    path: Path
    package: str  # bert
    tree: ast.Module
    is_init: bool
    exports: set | None = None  # names in a static __all__
    has_all: bool = False
    dynamic_all: bool = False


@dataclass
class Package:
    name: str
    root: Path  # packages/<name>/src/kerastack/<name>
    pyproject: Path
    siblings: list = field(default_factory=list)
    modules: dict = field(default_factory=dict)  # dotted name -> Module
    lines: int = 0
    imported: set = field(default_factory=set)  # packages it really imports


@dataclass
class Edge:
    line: int
    in_function: bool


class Checker:
    def __init__(self, root):
        self.root = Path(root).resolve()
        self.packages = {}
        self.modules = {}
        self.problems = []  # (path, line, text)

    # -- reporting ---------------------------------------------------------------------------

    def problem(self, path, line, what, why):
        try:
            shown = path.relative_to(self.root)
        except ValueError:
            shown = path
        problem = (str(shown), line, f"{what}: {why}")
        if problem not in self.problems:  # once, though several names share the line
            self.problems.append(problem)

    def allowed(self, module, target, name):
        relative = module.path.relative_to(self.root).as_posix()
        return (relative, target, name) in ALLOWED

    # -- discovery ---------------------------------------------------------------------------

    def discover(self):
        folder = self.root / "packages"
        for pyproject in sorted(folder.glob("*/pyproject.toml")):
            name = pyproject.parent.name
            root = pyproject.parent / "src" / NAMESPACE / name
            package = Package(name, root, pyproject)
            if not (root / "__init__.py").is_file():
                self.problem(
                    pyproject,
                    1,
                    f"package {name!r} has no {root.relative_to(self.root)}/__init__.py",
                    "each packages/<name> holds its code in src/kerastack/<name>",
                )
                continue
            self.packages[name] = package
        for package in self.packages.values():
            self.read_siblings(package)
            for path in sorted(package.root.rglob("*.py")):
                if "__pycache__" in path.parts:
                    continue
                self.read_module(package, path)

    def read_siblings(self, package):
        try:
            config = tomllib.loads(package.pyproject.read_text())
        except tomllib.TOMLDecodeError as error:
            self.problem(package.pyproject, 1, "unreadable pyproject.toml", str(error))
            return
        hook = config.get("tool", {}).get("hatch", {}).get("metadata", {}).get("hooks", {})
        siblings = hook.get("custom", {}).get("siblings")
        if not isinstance(siblings, list) or not all(isinstance(s, str) for s in siblings):
            self.problem(
                package.pyproject,
                1,
                f"package {package.name!r} declares no siblings list",
                "[tool.hatch.metadata.hooks.custom] siblings = [...] names the kerastack "
                "packages it may import (an empty list for none)",
            )
            return
        for sibling in siblings:
            if sibling == package.name:
                self.problem(package.pyproject, 1, f"{package.name!r} lists itself", "drop it")
            elif sibling not in self.packages:
                self.problem(
                    package.pyproject,
                    1,
                    f"{package.name!r} lists unknown sibling {sibling!r}",
                    f"no packages/{sibling}/src/{NAMESPACE}/{sibling} exists",
                )
        package.siblings = [s for s in siblings if s != package.name]

    def read_module(self, package, path):
        relative = path.relative_to(package.root).with_suffix("").parts
        is_init = relative[-1] == "__init__"
        parts = relative[:-1] if is_init else relative
        name = ".".join((NAMESPACE, package.name) + parts)
        source = path.read_text(encoding="utf-8")
        package.lines += sum(1 for line in source.splitlines() if line.strip())
        try:
            tree = ast.parse(source, filename=str(path))
        except SyntaxError as error:
            self.problem(path, error.lineno or 1, "syntax error", str(error.msg))
            return
        module = Module(name, path, package.name, tree, is_init)
        self.read_all(module)
        package.modules[name] = module
        self.modules[name] = module

    @staticmethod
    def read_all(module):
        """The names of a module-level ``__all__`` built from string literals."""
        names = set()
        for node in module.tree.body:
            value, extend = None, False
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                value = node.value
            elif isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "__all__":
                value = node.value
            elif isinstance(node, ast.AugAssign) and getattr(node.target, "id", None) == "__all__":
                value, extend = node.value, True
            elif (
                isinstance(node, ast.Expr)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)
                and getattr(node.value.func.value, "id", None) == "__all__"
                and node.value.func.attr in ("append", "extend")
                and len(node.value.args) == 1
            ):
                arg = node.value.args[0]
                value = ast.List([arg], ast.Load()) if node.value.func.attr == "append" else arg
                extend = True
            else:
                continue
            if not extend:
                names = set()
            module.has_all = True
            if isinstance(value, (ast.List, ast.Tuple)) and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts
            ):
                names.update(e.value for e in value.elts)
            else:
                module.dynamic_all = True
        module.exports = names if module.has_all and not module.dynamic_all else None

    # -- resolution --------------------------------------------------------------------------

    def owner(self, dotted):
        """(package name, dotted module) of the longest known module prefix of ``dotted``."""
        parts = dotted.split(".")
        for end in range(len(parts), 1, -1):
            candidate = ".".join(parts[:end])
            if candidate in self.modules:
                return self.modules[candidate].package, candidate
        if len(parts) >= 2 and parts[0] == NAMESPACE:
            return parts[1], None
        return None, None

    @staticmethod
    def absolute(module, node):
        """The absolute module a ``from`` import names (relative imports resolved)."""
        if not node.level:
            return node.module
        base = module.name.split(".")
        if not module.is_init:
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))

    # -- the checks --------------------------------------------------------------------------

    def check_module(self, module, graph):
        package = self.packages[module.package]
        bindings = {}  # local name -> dotted module or package it stands for

        def edge(target, line, inside):
            if target == module.name or self.modules[target].package != module.package:
                return
            edges = graph.setdefault(module.name, {})
            if target not in edges or (edges[target].in_function and not inside):
                edges[target] = Edge(line, inside)

        for node, inside in walk(module.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if not alias.name.startswith(NAMESPACE + "."):
                        if alias.name == NAMESPACE and alias.asname:
                            bindings[alias.asname] = NAMESPACE
                        elif alias.name == NAMESPACE:
                            bindings[NAMESPACE] = NAMESPACE
                        continue
                    bound = alias.asname or NAMESPACE
                    bindings[bound] = alias.name if alias.asname else NAMESPACE
                    target_package, target = self.owner(alias.name)
                    self.check_arrow(module, package, target_package, node.lineno)
                    if target is None:
                        self.problem_unknown(module, alias.name, node.lineno)
                        continue
                    if target_package == module.package:
                        edge(target, node.lineno, inside)
                    else:
                        self.check_module_public(module, target, node.lineno)
                        if target != alias.name:
                            self.problem_unknown(module, alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                source = self.absolute(module, node)
                if source is None or not (
                    source == NAMESPACE or source.startswith(NAMESPACE + ".")
                ):
                    continue
                for alias in node.names:
                    self.check_from(
                        module,
                        package,
                        source,
                        alias,
                        node.lineno,
                        bindings,
                        lambda target, line, inside=inside: edge(target, line, inside),
                    )
        self.check_attributes(module, package, bindings)

    def check_from(self, module, package, source, alias, line, bindings, edge):
        bound = alias.asname or alias.name
        if source == NAMESPACE:  # from kerastack import X
            if alias.name == "*":
                self.problem(
                    module.path, line, "from kerastack import *", "import the packages by name"
                )
                return
            dotted = f"{NAMESPACE}.{alias.name}"
            self.check_arrow(module, package, alias.name, line)
            if dotted not in self.modules:
                self.problem_unknown(module, dotted, line)
                return
            bindings[bound] = dotted
            if alias.name == module.package:
                edge(dotted, line)
            return
        target_package, target = self.owner(source)
        self.check_arrow(module, package, target_package, line)
        if target is None or target != source:
            self.problem_unknown(module, source, line)
            return
        submodule = f"{source}.{alias.name}"
        if target_package == module.package:
            # A submodule imported by name is an edge to it, not to the package's __init__.
            if submodule in self.modules:
                bindings[bound] = submodule
                edge(submodule, line)
            else:
                edge(target, line)
            return
        if not self.check_module_public(module, target, line):
            return
        if alias.name == "*":
            if not self.modules[target].has_all and not self.allowed(module, target, "*"):
                self.problem(
                    module.path,
                    line,
                    f"from {target} import *",
                    f"{target} defines no __all__: import its public names one by one",
                )
            return
        if submodule in self.modules and (
            self.modules[target].exports is None or alias.name not in self.modules[target].exports
        ):
            # ``from kerastack.X import mod``: a module import; its names are checked where used.
            bindings[bound] = submodule
            self.check_module_public(module, submodule, line)
            return
        if submodule in self.modules:
            bindings[bound] = submodule
        self.check_name(module, target, alias.name, line)

    def check_arrow(self, module, package, target_package, line):
        if target_package is None or target_package == package.name:
            return
        package.imported.add(target_package)
        if target_package in package.siblings or target_package not in self.packages:
            return
        if self.allowed(module, f"{NAMESPACE}.{target_package}", None):
            return
        self.problem(
            module.path,
            line,
            f"{NAMESPACE}.{package.name} imports {NAMESPACE}.{target_package}",
            f"{target_package!r} is not in the siblings of "
            f"{package.pyproject.relative_to(self.root)} (a package imports only the packages "
            "it declares, which sit below it)",
        )

    def problem_unknown(self, module, dotted, line):
        self.problem(
            module.path,
            line,
            f"import of unknown module {dotted}",
            "no such module under packages/*/src",
        )

    def check_module_public(self, module, target, line):
        """Another package's module must be public: no underscore in its dotted name."""
        private = [part for part in target.split(".")[2:] if part.startswith("_")]
        if private and not self.allowed(module, target, None):
            self.problem(
                module.path,
                line,
                f"import of private module {target}",
                "other packages import only public names; move what they need into a public "
                f"name listed in {'.'.join(target.split('.')[:2])}.__all__",
            )
            return False
        return True

    def check_name(self, module, target, name, line):
        """``name`` taken from module ``target`` of another package."""
        if self.allowed(module, target, name):
            return
        exported = self.modules[target]
        where = f"{target}.{name}"
        if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
            self.problem(
                module.path,
                line,
                f"use of private name {where}",
                "underscore names are private to their package; export a public name",
            )
        elif not exported.has_all:
            self.problem(
                module.path,
                line,
                f"use of {where}",
                f"{target} defines no __all__, so it exports nothing to other packages",
            )
        elif exported.dynamic_all:
            self.problem(
                module.path,
                line,
                f"use of {where}",
                f"the __all__ of {target} is not a literal list of strings, so it cannot be "
                "checked statically",
            )
        elif name not in exported.exports:
            self.problem(
                module.path,
                line,
                f"use of unexported name {where}",
                f"{name!r} is not in the __all__ of {target}",
            )

    def check_attributes(self, module, package, bindings):
        """``X.name`` where ``X`` stands for another package or one of its modules."""
        if not bindings:
            return
        seen = set()
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Attribute) or id(node) in seen:
                continue
            chain, inner = [], node
            while isinstance(inner, ast.Attribute):
                seen.add(id(inner))
                chain.append(inner.attr)
                inner = inner.value
            if not isinstance(inner, ast.Name) or inner.id not in bindings:
                continue
            dotted = bindings[inner.id]
            for attr in reversed(chain):
                candidate = f"{dotted}.{attr}"
                if candidate in self.modules:
                    dotted = candidate
                    owner = self.modules[candidate].package
                    if owner != module.package:
                        self.check_arrow(module, package, owner, node.lineno)
                        if not self.check_module_public(module, candidate, node.lineno):
                            break
                    continue
                if dotted == NAMESPACE:
                    self.problem_unknown(module, candidate, node.lineno)
                elif self.modules[dotted].package != module.package:
                    if attr not in MODULE_ATTRIBUTES:
                        self.check_name(module, dotted, attr, node.lineno)
                break

    def check_cycles(self, graph):
        for name, package in sorted(self.packages.items()):
            nodes = sorted(package.modules)
            local = {a: graph.get(a, {}) for a in nodes}
            for cycle in simple_cycles(nodes, {a: sorted(b) for a, b in local.items()}):
                hops = []
                for a, b in zip(cycle, cycle[1:], strict=False):
                    edge = local[a][b]
                    where = f"{self.modules[a].path.name}:{edge.line}"
                    hops.append(where + (" in a function" if edge.in_function else ""))
                first = self.modules[cycle[0]]
                self.problem(
                    first.path,
                    local[cycle[0]][cycle[1]].line,
                    f"import cycle in {NAMESPACE}.{name}: "
                    + " -> ".join(short(m) for m in cycle)
                    + f" ({', '.join(hops)})",
                    "modules of a package must not import each other in a circle (a function-"
                    "level import only hides it); move the shared piece into a third module, "
                    "and import sibling modules directly, not the package's __init__",
                )

    def check_arrow_cycles(self):
        arrows = {
            n: sorted(s for s in p.siblings if s in self.packages) for n, p in self.packages.items()
        }
        for cycle in simple_cycles(sorted(arrows), arrows):
            self.problem(
                self.packages[cycle[0]].pyproject,
                1,
                "declared package arrows form a cycle: " + " -> ".join(cycle),
                "the siblings lists must stack the packages in a tower, each above what it uses",
            )

    def run(self):
        self.discover()
        self.check_arrow_cycles()
        graph = {}
        for name in sorted(self.modules):
            module = self.modules[name]
            self.check_module(module, graph)
        self.check_cycles(graph)
        return self.problems

    def tower(self):
        """Packages ordered lowest first (by their declared arrows), ties by name."""
        order, placed = [], set()
        remaining = sorted(self.packages)
        while remaining:
            ready = [
                n
                for n in remaining
                if all(s in placed or s not in self.packages for s in self.packages[n].siblings)
            ] or remaining[:1]  # a cycle (reported by the check): break it by name
            ready.sort(key=lambda n: (len(self.packages[n].siblings), n))
            order.append(ready[0])
            placed.add(ready[0])
            remaining.remove(ready[0])
        return order


def walk(tree):
    """Every node with whether it sits inside a function (where an import runs late)."""
    stack = [(tree, False)]
    while stack:
        node, inside = stack.pop()
        yield node, inside
        late = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for name, value in ast.iter_fields(node):
            # Decorators, defaults and annotations of a def run when the def does.
            body = late and name == "body"
            children = value if isinstance(value, list) else [value]
            for child in children:
                if isinstance(child, ast.AST):
                    stack.append((child, inside or body))


def short(dotted):
    parts = dotted.split(".")
    return ".".join(parts[2:]) or "__init__"


def components(nodes, edges):
    """The strongly connected components of the graph (Kosaraju), each a set."""
    order, seen = [], set()
    for root in nodes:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(edges.get(root, ())))]
        while stack:
            node, successors = stack[-1]
            for succ in successors:
                if succ not in seen:
                    seen.add(succ)
                    stack.append((succ, iter(edges.get(succ, ()))))
                    break
            else:
                order.append(stack.pop()[0])
    reverse = {}
    for node in nodes:
        for succ in edges.get(node, ()):
            reverse.setdefault(succ, []).append(node)
    found, assigned = [], set()
    for root in reversed(order):
        if root in assigned:
            continue
        component, stack = {root}, [root]
        assigned.add(root)
        while stack:
            for pred in reverse.get(stack.pop(), ()):
                if pred not in assigned:
                    assigned.add(pred)
                    component.add(pred)
                    stack.append(pred)
        found.append(component)
    return found


def simple_cycles(nodes, edges, limit=50):
    """Each elementary cycle once, as [a, b, ..., a], starting at its smallest node.

    The search runs inside each strongly connected component, and cycles
    through ``start`` use only nodes not smaller than it, so each cycle is found
    once, from its smallest node. At most ``limit`` cycles.
    """
    found = []
    rank = {n: i for i, n in enumerate(nodes)}
    component_of = {}
    for component in components(nodes, edges):
        for node in component:
            component_of[node] = frozenset(component)
    for start in nodes:
        stack = [(start, iter(edges.get(start, ())))]
        path, on_path = [start], {start}
        while stack:
            node, successors = stack[-1]
            for succ in successors:
                if succ not in component_of[start] or rank[succ] < rank[start]:
                    continue
                if succ == start:
                    found.append(path + [start])
                    if len(found) >= limit:
                        return found
                elif succ not in on_path:
                    path.append(succ)
                    on_path.add(succ)
                    stack.append((succ, iter(edges.get(succ, ()))))
                    break
            else:
                stack.pop()
                on_path.discard(path.pop())
    return found


def graph_table(checker):
    rows = [
        "| Package | Declared arrows (siblings) | Imported | Modules | Lines of code |",
        "|---|---|---|---:|---:|",
    ]
    total_lines = total_modules = 0
    for name in checker.tower():
        package = checker.packages[name]
        declared = ", ".join(package.siblings) or "-"
        imported = ", ".join(sorted(package.imported)) or "-"
        rows.append(
            f"| {name} | {declared} | {imported} | {len(package.modules)} | {package.lines} |"
        )
        total_lines += package.lines
        total_modules += len(package.modules)
    rows.append(f"| **total** | | | {total_modules} | {total_lines} |")
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=ROOT, help="the repository root (default: this one)")
    parser.add_argument(
        "--graph",
        action="store_true",
        help="print the package arrows and lines of code as a Markdown table, lowest first",
    )
    args = parser.parse_args(argv)
    checker = Checker(args.root)
    problems = sorted(checker.run(), key=lambda p: (p[0], p[1], p[2]))
    if args.graph:
        print(graph_table(checker))
        return 0
    for path, line, text in problems:
        print(f"{path}:{line}: {text}")
    arrows = sum(len(p.siblings) for p in checker.packages.values())
    summary = (
        f"{len(checker.packages)} packages, {arrows} declared arrows, "
        f"{len(checker.modules)} modules checked"
    )
    if problems:
        print(f"check_imports: {len(problems)} problem(s) ({summary})")
        return 1
    print(f"check_imports: ok ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
