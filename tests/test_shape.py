"""The layout's rules, checked: no import cycle among our modules, no module in bot/, cogs/ or
db/ over 450 lines, no comment citing a document the repository does not hold, and every path
docs/architecture.md names exists."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

from tests.import_graph import OUR_PACKAGES, PROJECT_ROOT, build_graph, find_cycles

MAX_MODULE_LINES = 450
COMMENTED_TREES = (*OUR_PACKAGES, "tests", "bench")
ARCHITECTURE = PROJECT_ROOT / "docs" / "architecture.md"
# Documents that live outside the repository: a reader of the code cannot open them.
OUTSIDE_DOCUMENT = re.compile(r"DESIGN\.md|STYLE\.md|\.\./shared|\bpromises?\s+\d", re.I)
# A backticked path under one of the repository's top-level folders, or a `module:name` line.
TOP_LEVEL = ("bot", "cogs", "db", "tests", "bench", "docs")
PATH_LIKE = re.compile(rf"^(?:{'|'.join(TOP_LEVEL)})(?:/[\w.{{}},*\-]*)+$")
MODULE_NAME = re.compile(rf"^((?:{'|'.join(TOP_LEVEL)})(?:\.\w+)*):(\w+)$")
INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
LINK_TARGET = re.compile(r"\]\(([^)#\s]+)")


def our_modules(*trees: str) -> list[Path]:
    return sorted(path for tree in trees for path in (PROJECT_ROOT / tree).rglob("*.py"))


# ----- import cycles ---------------------------------------------------------------------------


def test_no_import_cycle_among_our_modules() -> None:
    graph = build_graph(PROJECT_ROOT)
    cycles = find_cycles(graph)
    assert not cycles, "\n".join(cycle.describe(graph) for cycle in cycles)


def _write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_walker_finds_a_cycle_through_a_function_local_import(tmp_path: Path) -> None:
    _write_package(
        tmp_path,
        {
            "pkg/__init__.py": '"""A package with only a docstring."""\n',
            "pkg/a.py": "from pkg.b import thing\n",
            "pkg/b.py": "thing = 1\n\ndef later():\n    from . import a\n    return a\n",
            "pkg/c.py": "import pkg.a\n",
        },
    )
    graph = build_graph(tmp_path, ["pkg"])
    [cycle] = find_cycles(graph)
    assert cycle.modules == ["pkg.a", "pkg.b"]
    assert cycle.paths == [["pkg.a", "pkg.b", "pkg.a"]]
    assert "pkg/b.py:4" in cycle.describe(graph)


def test_the_walker_finds_a_cycle_under_type_checking(tmp_path: Path) -> None:
    _write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "",
            "pkg/sub/x.py": "from ..y import Y\nclass X: ...\n",
            "pkg/y.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from pkg.sub import x\n"
                "class Y: ...\n"
            ),
        },
    )
    graph = build_graph(tmp_path, ["pkg"])
    [cycle] = find_cycles(graph)
    assert cycle.modules == ["pkg.sub.x", "pkg.y"]


def test_the_walker_counts_a_package_init_only_when_it_runs_code(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": '"""Docstring only."""\nfrom __future__ import annotations\n',
        "pkg/a.py": "import pkg.b\n",
        "pkg/b.py": "import pkg\nfrom pkg import a as _unused\n",
    }
    _write_package(tmp_path, files)
    graph = build_graph(tmp_path, ["pkg"])
    # b imports a by name, a imports b: a real cycle, but none through the empty __init__.
    [cycle] = find_cycles(graph)
    assert cycle.modules == ["pkg.a", "pkg.b"]

    # An __init__ that imports a submodule which imports the package back is a cycle.
    _write_package(tmp_path, {"pkg/__init__.py": "from .c import C\n", "pkg/c.py": ""})
    _write_package(tmp_path, {"pkg/c.py": "from pkg import b\nC = 1\n", "pkg/a.py": ""})
    graph = build_graph(tmp_path, ["pkg"])
    assert [c.modules for c in find_cycles(graph)] == [["pkg", "pkg.b", "pkg.c"]]


def test_the_walker_passes_a_package_without_cycles(tmp_path: Path) -> None:
    _write_package(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.core import Core\n",
            "pkg/core.py": "import json\nclass Core: ...\n",
            "pkg/adapter.py": (
                "from typing import TYPE_CHECKING\n"
                "from . import core\n"
                "if TYPE_CHECKING:\n"
                "    from pkg.core import Core\n"
                "def run():\n"
                "    from pkg import Core\n"
                "    return Core\n"
            ),
            "pkg/inner/__init__.py": "from .leaf import LEAF\n",
            "pkg/inner/leaf.py": "from ..core import Core\nLEAF = Core\n",
        },
    )
    graph = build_graph(tmp_path, ["pkg"])
    assert find_cycles(graph) == []
    assert set(graph.edges("pkg.adapter")) == {"pkg", "pkg.core"}
    # A submodule importing a sibling does not depend on its own package's __init__.
    assert set(graph.edges("pkg.inner.leaf")) == {"pkg.core"}


# ----- module size -----------------------------------------------------------------------------


def test_no_module_over_450_lines() -> None:
    too_long = {
        str(path.relative_to(PROJECT_ROOT)): count
        for path in our_modules(*OUR_PACKAGES)
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, "\n".join(f"{path}: {n} lines" for path, n in sorted(too_long.items()))


# ----- comments cite only what the repository holds --------------------------------------------


def comments_and_docstrings(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every comment and every module, class and function docstring."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            value = first.value if isinstance(first, ast.Expr) else None
            if (
                first is not None
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
            ):
                yield first.lineno, value.value


def test_comment_scanner_reads_comments_and_docstrings_only() -> None:
    source = (
        '"""Module: see DESIGN.md."""\n'
        "x = 'STYLE.md is only a string here'\n"
        "def f():\n"
        "    '''Keeps promise 3.'''\n"
        "    return x  # from ../shared\n"
    )
    assert sorted(line for line, _ in citations(source)) == [1, 4, 5]


def citations(source: str) -> Iterator[tuple[int, str]]:
    """(line, that line) of every comment or docstring line citing an outside document."""
    for start, text in comments_and_docstrings(source):
        for offset, line in enumerate(text.splitlines()):
            if OUTSIDE_DOCUMENT.search(line):
                yield start + offset, line.strip()


def test_no_comment_cites_a_document_outside_the_repository() -> None:
    sources = {path: path.read_text(encoding="utf-8") for path in our_modules(*COMMENTED_TREES)}
    citing = [
        f"{path.relative_to(PROJECT_ROOT)}:{line}: {text[:100]}"
        for path, source in sources.items()
        # Tokenizing is slow; a file that names no outside document anywhere cites none.
        if OUTSIDE_DOCUMENT.search(source)
        for line, text in citations(source)
    ]
    assert not citing, "\n".join(citing)


# ----- docs/architecture.md names only what exists ---------------------------------------------


def _expand_braces(path: str) -> list[str]:
    """`bot/drops/{service,claims}.py` -> both paths (nested braces expand too)."""
    match = re.search(r"\{([^{}]*,[^{}]*)\}", path)
    if match is None:
        return [path]
    head, tail = path[: match.start()], path[match.end() :]
    return [
        expanded
        for choice in match.group(1).split(",")
        for expanded in _expand_braces(head + choice.strip() + tail)
    ]


def named_paths(markdown: str) -> list[str]:
    """The repository paths a document names: backticked paths under a top-level folder
    (braces expanded) and relative link targets. Placeholders written `<name>` are skipped:
    a recipe may name a folder the reader is about to create."""
    fenced = re.compile(r"^```.*?^```", re.S | re.M)
    prose = fenced.sub("", markdown)
    candidates = [m.group(1).strip() for m in INLINE_CODE.finditer(prose)]
    candidates += [m.group(1) for m in LINK_TARGET.finditer(prose) if "://" not in m.group(1)]
    paths = []
    for candidate in candidates:
        if "<" in candidate or not PATH_LIKE.match(candidate.removeprefix("./")):
            continue
        paths.extend(_expand_braces(candidate.removeprefix("./")))
    return list(dict.fromkeys(paths))


def named_module_lines(markdown: str) -> list[tuple[str, str]]:
    """(module, name) of every backticked `package.module:NAME`, as registry lines read."""
    found = (MODULE_NAME.match(m.group(1).strip()) for m in INLINE_CODE.finditer(markdown))
    return [(m.group(1), m.group(2)) for m in found if m is not None]


def _exists(path: str) -> bool:
    if "*" in path:
        return any(PROJECT_ROOT.glob(path))
    return (PROJECT_ROOT / path).exists()


def _defines(module: str, name: str) -> bool:
    base = PROJECT_ROOT / module.replace(".", "/")
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    if not path.exists():
        return False
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        names: list[str] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names = [node.name]
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names = [alias.asname or alias.name for alias in node.names]
        if name in names:
            return True
    return False


def test_the_path_parser_reads_a_sample() -> None:
    sample = (
        "# Layers\n"
        "The ports live in `bot/ports.py`; drops in `bot/drops/`, cogs in `cogs/`.\n"
        "Handlers: `bot/telegram/handlers/{mint,wallet}.py`. See [the README](README.md) and\n"
        "[the models](db/engine.py). Not paths: `make lint`, `Drops.claim()`, `bot`.\n"
        "A new platform goes in `bot/<name>/`; register `bot.discord.platform:DISCORD`.\n"
        "```\nbot/only/in/a/fence.py\n```\n"
    )
    assert named_paths(sample) == [
        "bot/ports.py",
        "bot/drops/",
        "cogs/",
        "bot/telegram/handlers/mint.py",
        "bot/telegram/handlers/wallet.py",
        "db/engine.py",
    ]
    assert named_module_lines(sample) == [("bot.discord.platform", "DISCORD")]
    assert _exists("db/engine.py")
    assert not _exists("bot/no_such_module.py")
    assert _defines("tests.import_graph", "build_graph")
    assert not _defines("tests.import_graph", "no_such_name")


def test_every_path_the_architecture_document_names_exists() -> None:
    assert ARCHITECTURE.exists(), "docs/architecture.md is missing"
    text = ARCHITECTURE.read_text(encoding="utf-8")
    paths = named_paths(text)
    assert paths, "docs/architecture.md names no module path"
    missing = [path for path in paths if not _exists(path)]
    missing += [
        f"{module}:{name}"
        for module, name in named_module_lines(text)
        if not _defines(module, name)
    ]
    assert not missing, "named in docs/architecture.md but not in the tree:\n" + "\n".join(missing)


def test_make_lint_runs_the_import_cycle_check() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "-m tests.import_graph" in lint
