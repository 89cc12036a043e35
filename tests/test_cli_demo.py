"""Tests for `poolscope generate --demo FAULT`: on the built-in default model each fault point's
demo makes the checker count it (exit 3, or 0 with an explicit --on-leak count), and the same
workload without the fault is clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.cli.demo import DEMOS, run_demo
from runtime.cli.main import main
from runtime.engine.config import EngineConfig
from runtime.engine.engine import Engine
from runtime.memory.faults import FAULT_POINTS

pytestmark = pytest.mark.slow

EXPECTED = {
    "kv_double_free": "full double_free",
    "swa_skip_free": "swa leak",
    "session_close_leaks_mamba": "mamba leak",
    "session_double_count": "mamba double_free",
    "session_mamba_revert_free": "mamba double_free",
}


def test_every_fault_point_has_a_demo() -> None:
    """Each named fault point has a demo workload."""
    assert set(DEMOS) == set(FAULT_POINTS) == set(EXPECTED)


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_demo_counts_its_fault_and_exits_3(
    fault: str, hybrid_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`generate --demo FAULT` on the default model prints the fault's leak and exits 3."""
    assert main(["generate", "--model", str(hybrid_dir), "--demo", fault]) == 3
    captured = capsys.readouterr()
    assert f"demo {fault}:" in captured.out
    check = next(line for line in captured.out.splitlines() if line.startswith("memory check:"))
    assert EXPECTED[fault] in check
    assert "exit 3" in captured.err


def test_demo_with_explicit_count_exits_0(
    hybrid_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An explicit `--on-leak count` keeps the counted leak in the output but exits 0."""
    argv = ["generate", "--model", str(hybrid_dir), "--demo", "swa_skip_free", "--on-leak", "count"]
    assert main(argv) == 0
    assert "memory check: swa leak x1" in capsys.readouterr().out


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_demo_workload_is_clean_without_its_fault(
    fault: str, hybrid_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo's workload and settings with the fault off count nothing."""
    from dataclasses import replace

    from runtime.memory.checker import CheckMode

    settings = dict(DEMOS[fault].settings)
    if "mem_check" in settings:
        settings["mem_check"] = CheckMode(settings["mem_check"])
    engine = Engine.from_config(replace(EngineConfig(model=str(hybrid_dir)), **settings))
    run_demo(engine, fault)
    assert not engine.mm.leak_counts


def test_default_prompt_with_a_fault_points_to_its_demo(
    hybrid_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--inject-fault` on a workload that never reaches it says so and names the demo."""
    argv = ["generate", "--model", str(hybrid_dir), "--max-tokens", "4", "--inject-fault",
            "session_close_leaks_mamba"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "memory check: clean" in out
    assert "poolscope generate --demo session_close_leaks_mamba" in out


def test_demo_refuses_a_prompt(hybrid_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--demo with --prompt is one error line and exit 2 (the demo picks its own workload)."""
    argv = ["generate", "--model", str(hybrid_dir), "--demo", "kv_double_free", "--prompt", "x"]
    assert main(argv) == 2
    assert "leave out --prompt" in capsys.readouterr().err
