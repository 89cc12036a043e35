"""Test helpers have one home: tests/support/ defines the shared ones, no test file again."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
SHARED = {"free_port", "_free_port", "wait_until", "wait_for", "query", "_query", "firing",
          "_firing", "wait_for_series", "_wait_for_series"}


def test_shared_helpers_are_defined_only_in_tests_support() -> None:
    """No module under tests/ but tests/support/ defines a function named like a shared helper
    (a free port, a polling loop, a Prometheus query or its firing alerts)."""
    found = []
    for path in TESTS.rglob("*.py"):
        if path.parent.name == "support":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in SHARED:
                found.append(f"{path.relative_to(TESTS)}:{node.lineno} {node.name}")
    assert found == []
