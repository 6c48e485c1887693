"""The import graph of our own packages, and the cycles in it.

Every `import` counts: at module level, inside a function and under `if TYPE_CHECKING:` alike,
because a cycle dodged by a function-local import is still a cycle a reader has to untangle.
Run `python -m tests.import_graph` (exit status 1 on any cycle); `make lint` does, and
tests/test_shape.py runs the same check.
"""

from __future__ import annotations

import ast
import itertools
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
OUR_PACKAGES = ("bot", "cogs", "db")


@dataclass(frozen=True)
class Import:
    """One module importing another: where the import statement is written."""

    source: str
    target: str
    path: Path
    line: int


@dataclass
class ImportGraph:
    """Our modules (dotted names) and the imports between them."""

    root: Path
    modules: dict[str, Path] = field(default_factory=dict)
    packages: set[str] = field(default_factory=set)
    # Packages whose __init__ runs code: importing anything under them runs it too.
    packages_with_code: set[str] = field(default_factory=set)
    imports: dict[str, dict[str, Import]] = field(default_factory=dict)

    def edges(self, source: str) -> Iterable[str]:
        return self.imports.get(source, {}).keys()

    def where(self, source: str, target: str) -> Import:
        return self.imports[source][target]


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runs_code(tree: ast.Module) -> bool:
    """Whether a package's __init__ holds more than a docstring (and `from __future__`)."""
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return any(
        not (isinstance(node, ast.ImportFrom) and node.module == "__future__") for node in body
    )


def build_graph(root: Path, packages: Sequence[str] = OUR_PACKAGES) -> ImportGraph:
    """Parse every .py under `root/<package>` and collect the imports among them."""
    graph = ImportGraph(root)
    trees: dict[str, ast.Module] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            name = module_name(root, path)
            graph.modules[name] = path
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            trees[name] = tree
            if path.name == "__init__.py":
                graph.packages.add(name)
                if _runs_code(tree):
                    graph.packages_with_code.add(name)
    for name, tree in trees.items():
        for target, line in _imports_of(graph, name, tree):
            found = Import(name, target, graph.modules[name], line)
            graph.imports.setdefault(name, {}).setdefault(target, found)
    return graph


def _is_ancestor_or_self(package: str, module: str) -> bool:
    return module == package or module.startswith(package + ".")


def _imports_of(graph: ImportGraph, name: str, tree: ast.Module) -> Iterator[tuple[str, int]]:
    """(target module, line) for every import of one of our modules anywhere in `tree`."""
    is_package = name in graph.packages
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _resolve(graph, name, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # `from . import x` in a package's __init__ means the package itself.
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                parent = ".".join([*base, *([node.module] if node.module else [])])
            else:
                parent = node.module or ""
            if parent == "__future__":
                continue
            for alias in node.names:
                submodule = f"{parent}.{alias.name}"
                if alias.name != "*" and submodule in graph.modules:
                    yield from _resolve(graph, name, submodule, node.lineno)
                else:  # a name defined in `parent` itself (a module or a package's __init__)
                    yield from _resolve(graph, name, parent, node.lineno)


def _resolve(
    graph: ImportGraph, importer: str, dotted: str, line: int
) -> Iterator[tuple[str, int]]:
    """The modules that importing `dotted` runs: it, and each enclosing package whose __init__
    has code. An enclosing package of the importer is already running, so only naming it
    outright (`import pkg`, `from pkg import name`) makes it a new edge."""
    parts = dotted.split(".")
    for i in range(1, len(parts) + 1):
        prefix = ".".join(parts[:i])
        if prefix not in graph.modules:
            continue
        is_target = i == len(parts)
        if prefix in graph.packages:
            if prefix not in graph.packages_with_code:
                continue
            if not is_target and _is_ancestor_or_self(prefix, importer):
                continue
        elif not is_target:
            continue
        yield prefix, line


def strongly_connected(graph: ImportGraph) -> list[list[str]]:
    """Tarjan's strongly connected components, each sorted, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph.edges(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.edges(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def _shortest_cycle(graph: ImportGraph, component: list[str], start: str) -> list[str]:
    """A shortest cycle through `start`, staying inside its component."""
    members = set(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for child in sorted(graph.edges(node)):
                if child not in members:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return [start, start]


@dataclass(frozen=True)
class Cycle:
    """Modules that import each other in a circle, and ways round it that pass every one."""

    modules: list[str]
    paths: list[list[str]]

    def describe(self, graph: ImportGraph) -> str:
        lines = [f"import cycle of {len(self.modules)} module(s): {', '.join(self.modules)}"]
        for path in self.paths:
            lines.append("  " + " -> ".join(path))
            for source, target in itertools.pairwise(path):
                found = graph.where(source, target)
                where = f"{found.path.relative_to(graph.root)}:{found.line}"
                lines.append(f"    {source} -> {target}  ({where})")
        return "\n".join(lines)


def find_cycles(graph: ImportGraph) -> list[Cycle]:
    """Every strongly connected component of more than one module, and every self-import,
    each with shortest cycles through its modules until every one of them is on a path."""
    cycles = []
    for component in strongly_connected(graph):
        single = component[0]
        if len(component) == 1 and single not in graph.edges(single):
            continue
        paths: list[list[str]] = []
        for module in component:
            if not any(module in path for path in paths):
                paths.append(_shortest_cycle(graph, component, module))
        cycles.append(Cycle(component, paths))
    return cycles


def main(argv: Sequence[str] = ()) -> int:
    root = Path(argv[0]) if argv else PROJECT_ROOT
    graph = build_graph(root)
    cycles = find_cycles(graph)
    for cycle in cycles:
        print(cycle.describe(graph))
    edges = sum(len(targets) for targets in graph.imports.values())
    print(f"{len(graph.modules)} modules, {edges} imports among them, {len(cycles)} cycle(s)")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
