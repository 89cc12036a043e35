"""`poolscope bench parser --quick`: parses every layout in full and writes its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.bench.log_lines import FORMATS
from runtime.bench.parser_speed import SGLANG_TEXT
from runtime.cli.main import main


def test_quick_parser_bench_writes_every_layout(tmp_path: Path) -> None:
    """The quick run reports a positive rate for every layout, the JSON target and a target for
    each of the five SGLang forms."""
    assert main(["bench", "parser", "--quick", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "parser.json").read_text())
    assert data["quick"] is True
    assert [row["layout"] for row in data["rows"]] == list(FORMATS)
    assert all(row["lines/s (median)"] > 0 for row in data["rows"])
    assert len(SGLANG_TEXT) == 5
    names = [target["name"] for target in data["targets"]]
    assert names == ["JSON lines/s", *(f"SGLang text lines/s ({form})" for form in SGLANG_TEXT)]


def test_unknown_benchmark_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown name exits 2 and lists the known ones."""
    assert main(["bench", "nope"]) == 2
    assert "known: throughput" in capsys.readouterr().err
