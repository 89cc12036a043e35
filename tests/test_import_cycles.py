"""No import circle among the modules of runtime/, telemetry/, dashboards/ and deployment/.

The graph is what runs at import time: module-level imports, those under `if TYPE_CHECKING:`
included (a back-import for types is still a circle in the design), those inside functions not.
`from pkg import x` imports the package `pkg` (its `__init__` runs) as well as `pkg.x` if that
is a module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("runtime", "telemetry", "dashboards", "deployment")


def _modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    modules = {}
    for package in packages:
        for file in (root / package).rglob("*.py"):
            parts = file.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = file
    return modules


def _top_level(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements run when the module loads: not inside functions or classes."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            yield from _top_level(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            handlers = [s for h in node.handlers for s in h.body]
            yield from _top_level(node.body + handlers + node.orelse + node.finalbody)


def _imported(name: str, file: Path, node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = node.module or ""
    if node.level:  # relative: resolved against the importing module's package
        package = name.split(".") if file.name == "__init__.py" else name.split(".")[:-1]
        anchor = package[: len(package) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
    return {base} | {f"{base}.{alias.name}" for alias in node.names}


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Each module of the packages and the modules of the packages it imports at load time."""
    modules = _modules(root, packages)
    graph = {}
    for name, file in modules.items():
        found: set[str] = set()
        for node in _top_level(ast.parse(file.read_text()).body):
            found |= _imported(name, file, node)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = stack[stack.index(node) :]
                    del stack[stack.index(node) :]
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_import_circle_in_the_packages() -> None:
    """No set of modules in runtime/, telemetry/, dashboards/ or deployment/ imports itself
    round in a circle at load time."""
    assert cycles(import_graph(ROOT, PACKAGES)) == []


def test_a_circle_through_type_checking_or_a_package_is_found(tmp_path: Path) -> None:
    """The check sees a circle closed by an `if TYPE_CHECKING:` import, one closed through a
    package's `__init__`, and one closed by a relative import, and ignores function-level ones."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from pkg.b import B\n",
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import A\n",
        "sub/__init__.py": "from pkg.sub import c\n",
        "sub/c.py": "from pkg.sub import d\n",
        "sub/d.py": "from . import e\n",
        "sub/e.py": "def f():\n    from pkg.sub import d\n",
        "f.py": "from .g import x\n",
        "g.py": "from pkg import f\n",
    }
    for rel, text in files.items():
        (pkg / rel).write_text(text)
    found = cycles(import_graph(tmp_path, ("pkg",)))
    assert sorted(found) == [
        ["pkg.a", "pkg.b"],
        ["pkg.f", "pkg.g"],
        ["pkg.sub", "pkg.sub.c", "pkg.sub.d"],
    ]
