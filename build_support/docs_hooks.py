"""MkDocs hook: the documentation site is built from the repository's own files.

Nothing under ``docs/`` repeats text kept elsewhere. At build time this hook adds
pages to the site from:

- ``README.md``: the text before the first ``## `` heading and "Quick start" make
  the home page; "Packages", "Test lanes" and "Benchmarks" get pages of their
  own and "Layout" joins ``docs/architecture.md`` (``SECTION_PAGES``; a section
  sent to a page of ``docs/`` replaces its ``<!-- kerastack:readme-sections -->``
  marker, or else follows its text); every other ``## `` section becomes a
  guide under ``guides/``, in README order, so a new section is never dropped;
- ``packages/<name>/README.md``: ``packages/<name>.md``;
- each package's ``__all__``: ``api/<name>.md``, its API reference
  (``::: kerastack.<name>`` with those names as members), which mkdocstrings
  renders from the source without importing it;
- ``benchmarks/results/*.md`` and ``*.png``: one page per table, with its plot.

A new package shows up by itself: the hook looks at what ``packages/`` holds
each time it runs, and keeps no list of names. Links between these files are
rewritten to the pages they became; a link to anything else is left alone,
and ``mkdocs build --strict`` reports it.

A nav entry ``folder/*`` in ``mkdocs.yml`` stands for every page in that folder
not listed elsewhere in the nav: generated pages in the order they were made
(README order, packages from the bottom of the tower up), then the files of
``docs/``, sorted.

``docs/architecture.md`` holds two markers that this hook replaces with the
dependency graph and table read from each ``pyproject.toml``'s ``siblings``:
``<!-- kerastack:package-graph -->`` and ``<!-- kerastack:package-table -->``.

``KerasDocstrings``, at the end, is a griffe extension (mkdocs.yml loads it
for mkdocstrings) that reads this project's Keras-style docstrings.
"""

from __future__ import annotations

import ast
import logging
import posixpath
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from markdown.extensions.toc import slugify
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "kerastack"
RESULTS = "benchmarks/results"

# README "## " sections with a page of their own; the others become guides.
SECTION_PAGES = {
    "Quick start": "index.md",
    "Packages": "packages/index.md",
    "Test lanes": "test-lanes.md",
    "Benchmarks": "benchmarks/index.md",
    "Layout": "architecture.md",
}
SECTIONS_MARKER = "<!-- kerastack:readme-sections -->"
GRAPH_MARKER = "<!-- kerastack:package-graph -->"
TABLE_MARKER = "<!-- kerastack:package-table -->"

log = logging.getLogger(f"mkdocs.hooks.{__name__}")

_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"(\]\()([^)\s]+)(\))")


@dataclass
class Package:
    name: str  # the folder under packages/ and the module under kerastack/
    distribution: str
    siblings: list[str]
    dependencies: list[str]
    readme: Path | None
    exports: list[str]  # the names in kerastack.<name>.__all__


# --------------------------------------------------------------------------- packages


def find_packages() -> list[Package]:
    """Every package with a pyproject.toml and a kerastack/<name>/__init__.py,
    ordered from the bottom of the tower up (ties by name)."""
    found = {}
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        folder = pyproject.parent
        if not (folder / "src" / NAMESPACE / folder.name / "__init__.py").is_file():
            log.info(
                "packages/%s: no src/%s/%s/__init__.py, left out",
                folder.name,
                NAMESPACE,
                folder.name,
            )
            continue
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        hook = data.get("tool", {}).get("hatch", {}).get("metadata", {}).get("hooks", {})
        custom = hook.get("custom", {})
        readme = folder / "README.md"
        found[folder.name] = Package(
            name=folder.name,
            distribution=data.get("project", {}).get("name", f"{NAMESPACE}-{folder.name}"),
            siblings=list(custom.get("siblings", [])),
            dependencies=list(custom.get("dependencies", []))
            + list(data.get("project", {}).get("dependencies", [])),
            readme=readme if readme.is_file() else None,
            exports=_exports(folder / "src" / NAMESPACE / folder.name / "__init__.py"),
        )
    for package in found.values():
        unknown = [s for s in package.siblings if s not in found]
        if unknown:
            raise PluginError(
                f"packages/{package.name}/pyproject.toml: siblings {unknown} "
                f"are not packages (found: {sorted(found)})"
            )
    return [found[name] for name in _tower_order(found)]


def _exports(init: Path) -> list[str]:
    """The names a package's ``__init__.py`` lists in ``__all__`` (read, not imported)."""
    for statement in ast.parse(init.read_text(encoding="utf-8")).body:
        names = [getattr(t, "id", None) for t in getattr(statement, "targets", [])]
        if names == ["__all__"]:
            return list(ast.literal_eval(statement.value))
    raise PluginError(f"{init.relative_to(ROOT)} has no __all__")


def _tower_order(packages: dict[str, Package]) -> list[str]:
    level: dict[str, int] = {}

    def depth(name: str, path: tuple[str, ...]) -> int:
        if name in path:
            cycle = " -> ".join((*path[path.index(name) :], name))
            raise PluginError(f"the packages' siblings form a cycle: {cycle}")
        if name not in level:
            below = [depth(s, (*path, name)) for s in packages[name].siblings]
            level[name] = 1 + max(below, default=-1)
        return level[name]

    return sorted(packages, key=lambda name: (depth(name, ()), name))


def _closure(packages: dict[str, Package], name: str) -> set[str]:
    seen: set[str] = set()
    stack = list(packages[name].siblings)
    while stack:
        sibling = stack.pop()
        if sibling not in seen:
            seen.add(sibling)
            stack.extend(packages[sibling].siblings)
    return seen


def package_graph(packages: list[Package]) -> str:
    """A mermaid flowchart: an arrow from A to B when A imports B, leaving out
    the arrows that others imply (A -> C when A -> B -> C)."""
    by_name = {p.name: p for p in packages}
    lines = ["```mermaid", "flowchart TD"]
    for package in reversed(packages):
        lines.append(f'    {package.name}["{package.distribution}"]')
    for package in reversed(packages):
        implied = set()
        for sibling in package.siblings:
            implied |= _closure(by_name, sibling)
        for sibling in package.siblings:
            if sibling not in implied:
                lines.append(f"    {package.name} --> {sibling}")
    lines.append("```")
    return "\n".join(lines)


def package_table(packages: list[Package], page_uri: str) -> str:
    """One row per package: what it declares it may import, and who imports it."""
    api = posixpath.relpath("api", posixpath.dirname(page_uri) or ".")
    by_name = {p.name: p for p in packages}
    rows = [
        "| package | import | may import (its `siblings`) | imported by | other requirements |",
        "|---|---|---|---|---|",
    ]
    for package in packages:
        users = [p.name for p in packages if package.name in p.siblings]
        indirect = sorted(_closure(by_name, package.name) - set(package.siblings))
        may_import = ", ".join(f"`{s}`" for s in package.siblings) or "nothing in kerastack"
        if indirect:
            may_import += " (also reaches " + ", ".join(f"`{s}`" for s in indirect) + ")"
        rows.append(
            f"| [{package.distribution}]({api}/{package.name}.md) "
            f"| `{NAMESPACE}.{package.name}` "
            f"| {may_import} "
            f"| {', '.join(f'`{u}`' for u in users) or '—'} "
            f"| {', '.join(f'`{d}`' for d in package.dependencies) or '—'} |"
        )
    return "\n".join(rows)


# --------------------------------------------------------------------------- markdown


def _outside_fences(lines: list[str]):
    """Yield (index, line, in_fence) for each line."""
    fence = None
    for index, line in enumerate(lines):
        match = _FENCE.match(line)
        if match and fence is None:
            fence = match.group(1)
            yield index, line, True
        elif match and line.strip().startswith(fence):
            fence = None
            yield index, line, True
        else:
            yield index, line, fence is not None


def split_sections(text: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The lines before the first "## " heading, and each "## " section."""
    lines = text.splitlines()
    intro: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for _, line, in_fence in _outside_fences(lines):
        if not in_fence and line.startswith("## "):
            sections.append((line[3:].strip(), [line]))
        elif sections:
            sections[-1][1].append(line)
        else:
            intro.append(line)
    return intro, sections


def promote_headings(lines: list[str]) -> list[str]:
    """ "## Title" -> "# Title", "### Sub" -> "## Sub", outside code blocks."""
    return [
        line[1:] if not in_fence and re.match(r"##+ ", line) else line
        for _, line, in_fence in _outside_fences(lines)
    ]


class Site:
    """What the hook adds: generated pages and their repository sources."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}  # src_uri -> markdown, in creation order
        self.sources: dict[str, str] = {}  # src_uri -> repository path it came from
        self.assets: dict[str, Path] = {}  # src_uri -> file copied as is
        self.readme_anchors: dict[str, str] = {}  # README heading slug -> src_uri
        self.appendices: dict[str, str] = {}  # src_uri of a docs/ page -> README sections

    def add(self, uri: str, source: str, text: str) -> None:
        if uri in self.pages:
            self.pages[uri] += "\n\n" + text
        else:
            self.pages[uri] = text
            self.sources[uri] = source

    def site_uri(self, repo_path: str, anchor: str) -> str | None:
        """The site file a repository path became, or None."""
        if repo_path == "README.md":
            return self.readme_anchors.get(anchor, "index.md")
        if repo_path.startswith("docs/"):
            return repo_path[len("docs/") :]
        match = re.fullmatch(r"packages/([^/]+)/README\.md", repo_path)
        if match:
            return f"packages/{match.group(1)}.md"
        if repo_path in self.assets or repo_path in self.pages:
            return repo_path
        return None

    def rewrite_links(self, text: str, source: str, uri: str) -> str:
        def replace(match: re.Match) -> str:
            target = match.group(2)
            if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "/")):
                return match.group(0)
            path, _, anchor = target.partition("#")
            repo_path = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
            site = self.site_uri(repo_path, anchor)
            if site is None:
                return match.group(0)
            new = posixpath.relpath(site, posixpath.dirname(uri) or ".")
            return match.group(1) + new + (f"#{anchor}" if anchor else "") + match.group(3)

        return _LINK.sub(replace, text)


def build_site(packages: list[Package], docs_dir: Path) -> Site:
    site = Site()

    intro, sections = split_sections((ROOT / "README.md").read_text(encoding="utf-8"))
    site.add("index.md", "README.md", "\n".join(intro).strip())
    for heading, lines in sections:
        uri = SECTION_PAGES.get(heading, f"guides/{slugify(heading, '-')}.md")
        site.readme_anchors[slugify(heading, "-")] = uri
        if (docs_dir / uri).is_file():
            text = "\n".join(lines).strip()
            site.appendices[uri] = site.appendices.get(uri, "") + "\n\n" + text
            continue
        text = "\n".join(lines if uri == "index.md" else promote_headings(lines)).strip()
        site.add(uri, "README.md", text)

    for package in packages:
        if package.readme is not None:
            readme = package.readme.read_text(encoding="utf-8").rstrip()
            site.add(
                f"packages/{package.name}.md",
                f"packages/{package.name}/README.md",
                readme + f"\n\nAPI reference: [`{NAMESPACE}.{package.name}`]"
                f"(../api/{package.name}.md)",
            )
    for package in packages:
        module = f"{NAMESPACE}.{package.name}"
        site.add(
            f"api/{package.name}.md",
            f"packages/{package.name}/pyproject.toml",
            f"# `{module}`\n\n`pip install {package.distribution}`\n\n::: {module}\n"
            f"    options:\n      members: {package.exports}\n",
        )

    for image in sorted((ROOT / RESULTS).glob("*.png")):
        site.assets[f"{RESULTS}/{image.name}"] = image
    for table in sorted((ROOT / RESULTS).glob("*.md")):
        text = table.read_text(encoding="utf-8").strip()
        if not text.startswith("# "):
            text = f"# Results: {table.stem}\n\n`{RESULTS}/{table.name}`\n\n{text}"
        plot = f"{RESULTS}/{table.stem}.png"
        if plot in site.assets:
            text += f"\n\n![{table.stem}]({table.stem}.png)"
        site.add(f"{RESULTS}/{table.name}", f"{RESULTS}/{table.name}", text)

    for uri, text in site.pages.items():
        site.pages[uri] = site.rewrite_links(text, site.sources[uri], uri) + "\n"
    for uri, text in site.appendices.items():
        site.appendices[uri] = site.rewrite_links(text, "README.md", uri)
    return site


# --------------------------------------------------------------------------- nav


def _expand_nav(items: list, order: list[str]) -> list:
    explicit: set[str] = set()

    def collect(entries) -> None:
        for entry in entries:
            value = next(iter(entry.values())) if isinstance(entry, dict) else entry
            if isinstance(value, list):
                collect(value)
            elif isinstance(value, str) and not value.endswith("/*"):
                explicit.add(value)

    def matches(pattern: str) -> list[str]:
        folder = pattern[:-1]
        return [
            uri
            for uri in order
            if uri.startswith(folder) and "/" not in uri[len(folder) :] and uri not in explicit
        ]

    def expand(entries: list) -> list:
        out = []
        for entry in entries:
            if isinstance(entry, str) and entry.endswith("/*"):
                out.extend(matches(entry))
            elif isinstance(entry, dict):
                title, value = next(iter(entry.items()))
                if isinstance(value, str) and value.endswith("/*"):
                    value = matches(value)
                elif isinstance(value, list):
                    value = expand(value)
                out.append({title: value})
            else:
                out.append(entry)
        return out

    collect(items)
    return expand(items)


# --------------------------------------------------------------------------- hooks

_state: dict = {}


def on_files(files: Files, config) -> Files:
    packages = find_packages()
    site = build_site(packages, Path(config.docs_dir))
    _state["packages"] = packages
    _state["appendices"] = site.appendices
    for uri, text in site.pages.items():
        if files.get_file_from_path(uri) is not None:
            raise PluginError(
                f"docs/{uri} exists, and the hook makes {uri} from {site.sources[uri]}"
            )
        files.append(File.generated(config, uri, content=text))
    for uri, path in site.assets.items():
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    docs = sorted(f.src_uri for f in files.documentation_pages() if f.src_uri not in site.pages)
    if config.nav:
        config.nav = _expand_nav(config.nav, [*site.pages, *docs])
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    packages = _state["packages"]
    appendix = _state["appendices"].get(page.file.src_uri)
    if appendix and SECTIONS_MARKER in markdown:
        markdown = markdown.replace(SECTIONS_MARKER, appendix.strip())
    elif appendix:
        markdown = markdown.rstrip() + "\n" + appendix + "\n"
    if GRAPH_MARKER in markdown:
        markdown = markdown.replace(GRAPH_MARKER, package_graph(packages))
    if TABLE_MARKER in markdown:
        markdown = markdown.replace(TABLE_MARKER, package_table(packages, page.file.src_uri))
    return markdown


def on_serve(server, config, builder):
    for path in ("README.md", "packages", RESULTS, "build_support/docs_hooks.py"):
        server.watch(str(ROOT / path))
    return server


# --------------------------------------------------------------------------- griffe

_GROUPED_NAMES = re.compile(r"^(\s+)\**\w+(, \**\w+)*,$")
_MORE_NAMES = re.compile(r"^\s+\**\w+(, \**\w+)*[,:]")
_SECTION = re.compile(r"^(\s*)[A-Z][\w ]*:$")
_ITEM = re.compile(r"^\s*\**[\w.]+(, \**[\w.]+)*( \([^)]*\))?:( |$)")


def tidy_docstring(text: str) -> str:
    """Three habits of kerastack's Keras-style docstrings, made readable to griffe:

    - doctest lines (``>>>``) at the left margin, after a plain ``Example:``
      line, become a fenced ``pycon`` block (Markdown would read them as quotes);
    - names grouped over two lines in a section (``a, b, c,`` then
      ``d: as in Dense``) become one item, ``a, b, c, d: as in Dense``;
    - a paragraph after a section's items, indented as an item but not one,
      is moved out of the section, to follow it.
    """
    out: list[str] = []
    in_doctest = False
    section_indent = None  # the indentation of the section header we are in
    moved = None  # the indentation removed from the paragraph being moved out
    for _, line, in_fence in _outside_fences(text.splitlines()):
        if in_doctest and not line.strip():
            out.append("```")
            in_doctest = False
        if in_fence or in_doctest:
            out.append(line)
            continue
        if line.startswith(">>>"):
            out.append("```pycon")
            out.append(line)
            in_doctest = True
            continue
        if not line.strip():
            moved = None
            out.append(line)
            continue
        indent = len(line) - len(line.lstrip())
        header = _SECTION.match(line)
        if header:
            section_indent = indent
        elif section_indent is not None and indent <= section_indent:
            section_indent = None
        grouped = _GROUPED_NAMES.match(out[-1]) if out else None
        if grouped and _MORE_NAMES.match(line) and indent >= len(grouped.group(1)):
            out[-1] += " " + line.strip()
            continue
        if (
            section_indent is not None
            and not header
            and out
            and not out[-1].strip()
            and indent == section_indent + 4
            and not _ITEM.match(line)
        ):
            moved = 4
            section_indent = None
        if moved:
            line = line[moved:]
        out.append(line)
    if in_doctest:
        out.append("```")
    return "\n".join(out)


try:
    import griffe
except ImportError:  # only mkdocstrings loads this part
    griffe = None
else:

    class KerasDocstrings(griffe.Extension):
        """mkdocstrings' griffe extension: `tidy_docstring` on every docstring."""

        def on_instance(self, *, obj, **kwargs) -> None:
            if obj.docstring is not None:
                obj.docstring.value = tidy_docstring(obj.docstring.value)
