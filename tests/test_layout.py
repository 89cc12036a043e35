"""Repository rules that CI enforces: lint-clean code and the package layering."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
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


def _string_literals(package: str) -> Iterator[tuple[Path, str]]:
    for file in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield file, node.value


def test_no_metric_or_event_name_is_spelled_outside_the_catalog() -> None:
    """runtime/ and dashboards/ refer to metrics and events through catalog entries, never by
    a string holding a metric's OTel or Prometheus name or an event's name."""
    from telemetry import catalog

    names = {e.name for e in catalog.EVENTS}
    for spec in catalog.METRICS + catalog.EXPORTER_METRICS:
        names |= {spec.otel_name, spec.prometheus_name, spec.prometheus_name.removesuffix("_total")}
    packages = [p for p in ("runtime", "dashboards") if (ROOT / p).is_dir()]
    spelled = [
        (file.relative_to(ROOT).as_posix(), text)
        for package in packages
        for file, text in _string_literals(package)
        if text in names
    ]
    assert spelled == []


def test_no_formatter_markers_without_a_formatter() -> None:
    """No `# fmt:` marker is left in the code: no formatter runs in CI, so a marker would claim a
    check that never happens (ruff check, which CI runs, is the one style gate)."""
    marked = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in ("runtime", "telemetry", "dashboards", "deployment", "tests")
        for path in (ROOT / package).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"#\s*fmt:\s*(skip|off|on)\b", line)
    ]
    assert marked == []
