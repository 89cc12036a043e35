"""Test helpers have one home: tests/support/ defines the shared ones, no test file again."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
SHARED = {"free_port", "_free_port", "wait_until", "wait_for", "query", "_query", "firing",
          "_firing", "wait_for_series", "_wait_for_series", "stop_process", "_stop_process",
          "stop", "_stop", "start_serve", "_start_serve", "start_verb", "_start_verb",
          "fresh_logging", "_fresh_logging"}


def _outside_support() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text())) for path in TESTS.rglob("*.py")
            if path.parent.name != "support"]


def test_shared_helpers_are_defined_only_in_tests_support() -> None:
    """No module under tests/ but tests/support/ defines a function named like a shared helper
    (a free port, a polling loop, a Prometheus query or its firing alerts, starting
    `poolscope serve`, stopping a process, resetting logging)."""
    found = []
    for path, tree in _outside_support():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in SHARED:
                found.append(f"{path.relative_to(TESTS)}:{node.lineno} {node.name}")
    assert found == []


def test_processes_are_stopped_only_by_tests_support() -> None:
    """No module under tests/ but tests/support/ SIGKILLs a process (`.kill()`): the
    SIGTERM-then-SIGKILL stop is `tests.support.stop_process`, whatever a copy would be named."""
    found = []
    for path, tree in _outside_support():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "kill" and not node.args):
                found.append(f"{path.relative_to(TESTS)}:{node.lineno}")
    assert found == []
