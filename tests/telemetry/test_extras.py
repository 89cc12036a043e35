"""Optional dependencies: a verb whose extra is missing fails with one line naming the extra."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from runtime.bench.registry import runner
from runtime.cli.logs import main as logs_main
from telemetry.extras import MissingExtra, require_extra
from telemetry.logs.plot import figure


def test_require_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """A module that cannot be imported raises MissingExtra with the pip extra to install."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtra, match=r"pip install 'poolscope\[plot\]'"):
        require_extra("matplotlib", "plot", "poolscope logs plot")
    require_extra("json", "none", "anything")  # an importable module passes


def test_plot_without_matplotlib_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`poolscope logs plot` without matplotlib exits 2 with one `poolscope: error:` line that
    names the `plot` extra, and no traceback."""
    log = tmp_path / "serve.jsonl"
    log.write_text('{"timestamp": "2026-12-05T10:00:00Z", "event": "decode_batch", '
                   '"running_req": 1, "token_usage": 0.5, "full_token_usage": 0.5}\n')
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtra):
        figure([])
    assert logs_main(["plot", str(log), "-o", str(tmp_path / "usage.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("poolscope: error:") and "poolscope[plot]" in err
    assert "Traceback" not in err and not (tmp_path / "usage.png").exists()


def test_throughput_bench_without_transformers_names_the_bench_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The throughput benchmark refuses to start without transformers, naming `bench`."""
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(MissingExtra, match=r"poolscope\[bench\]"):
        runner("throughput")(True)
