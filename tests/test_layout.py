"""Repository rules that CI enforces: lint-clean code and the package layering."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORT = re.compile(r"^\s*(from|import)\s+(runtime|dashboards|telemetry)\b", re.MULTILINE)


def _imports(package: str) -> set[str]:
    found = set()
    for file in (ROOT / package).rglob("*.py"):
        found |= {m.group(2) for m in IMPORT.finditer(file.read_text())}
    return found - {package}


def test_ruff_finds_nothing() -> None:
    """`ruff check` passes on the whole repository."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_telemetry_and_dashboards_never_import_the_runtime() -> None:
    """telemetry imports nothing of ours; dashboards imports only telemetry."""
    assert _imports("telemetry") == set()
    assert _imports("dashboards") <= {"telemetry"}
