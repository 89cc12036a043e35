"""Tests for runtime.cli: `poolscope generate` prints text and tokens/s, and every bad input ends
in exit status 2 with one `poolscope: error:` line on stderr, never a traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from runtime.cli.main import main
from runtime.model.default_model import DEFAULT_NAME

POOLSCOPE = Path(sys.executable).parent / "poolscope"
TIMEOUT_S = 300
TOKENS_RE = re.compile(r"(\d+) tokens in .* tokens/s")


def _run_poolscope(args: list[str], cache: Path) -> subprocess.CompletedProcess[str]:
    """Runs the installed console script with POOLSCOPE_CACHE_DIR pointed at `cache`."""
    env = {**os.environ, "POOLSCOPE_CACHE_DIR": str(cache)}
    return subprocess.run(
        [str(POOLSCOPE), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT_S,
        check=False,
    )


def _single_error_line(stderr: str) -> str:
    """The one line of stderr, asserting it is the CLI's error line and nothing else."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("poolscope: error: ")
    assert "Traceback" not in stderr
    return lines[0]


def test_bad_model_dir_exits_2_with_one_line(tmp_path: Path) -> None:
    """The console script given a missing model directory exits 2 with one error line naming it."""
    bad = tmp_path / "no-such-model"
    proc = _run_poolscope(["generate", "--model", str(bad)], tmp_path / "cache")
    assert proc.returncode == 2
    assert str(bad) in _single_error_line(proc.stderr)
    assert proc.stdout == ""


@pytest.mark.slow
def test_default_model_generates_into_cache(tmp_path: Path) -> None:
    """`--model default` creates the model in the cache dir and generates exactly --max-tokens."""
    cache = tmp_path / "cache"
    proc = _run_poolscope(
        ["generate", "--model", "default", "--max-tokens", "8", "--ignore-eos"], cache
    )
    assert proc.returncode == 0, proc.stderr
    assert (cache / "models" / DEFAULT_NAME / "config.json").is_file()
    assert "Traceback" not in proc.stderr
    assert "output:" in proc.stdout
    rate_lines = [line for line in proc.stdout.splitlines() if "tokens/s" in line]
    assert len(rate_lines) == 1
    match = TOKENS_RE.search(rate_lines[0])
    assert match is not None, rate_lines[0]
    assert int(match.group(1)) == 8


def test_generate_in_process(
    nemotron_h_dir: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """main() on a model directory returns 0 and prints the prompt, output and tokens generated."""
    argv = ["generate", "--model", str(nemotron_h_dir), "--max-tokens", "4", "--ignore-eos"]
    assert main([*argv, "--prompt", "abc"]) == 0
    out, err = capsys.readouterr()
    assert "prompt: 'abc'" in out
    assert "output: " in out
    match = TOKENS_RE.search(out)
    assert match is not None, out
    assert int(match.group(1)) == 4
    assert "nemotron_h" in out
    assert err == ""
    assert not cache_dir.exists()


def test_generate_in_process_batch(
    nemotron_h_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Repeated --prompt flags generate one output per prompt and count all their tokens."""
    argv = ["generate", "--model", str(nemotron_h_dir), "--max-tokens", "3", "--ignore-eos"]
    assert main([*argv, "--prompt", "ab", "--prompt", "xyz"]) == 0
    out = capsys.readouterr().out
    assert out.count("output: ") == 2
    match = TOKENS_RE.search(out)
    assert match is not None, out
    assert int(match.group(1)) == 6


@pytest.mark.parametrize(
    ("flags", "pattern"),
    [
        (["--max-tokens", "0"], r"max_tokens must be an int >= 1, got 0"),
        (["--dtype", "float8"], r"unknown dtype 'float8'; choose one of float32"),
        (["--temperature", "-1"], r"temperature must be a finite number >= 0"),
        (["--prompt", ""], r"the prompt is empty"),
        (["--inject-fault", "nope"], r"unknown fault point\(s\) nope; known: session_mamba"),
    ],
    ids=["max-tokens-0", "dtype-float8", "negative-temperature", "empty-prompt", "bad-fault"],
)
def test_bad_flag_exits_2_with_one_line(
    nemotron_h_dir: Path,
    cache_dir: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    pattern: str,
) -> None:
    """A bad generate flag makes main() return 2 with one error line that explains it."""
    assert main(["generate", "--model", str(nemotron_h_dir), *flags]) == 2
    out, err = capsys.readouterr()
    assert re.search(pattern, _single_error_line(err))
    assert "output:" not in out


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_exits_2(
    nemotron_h_dir: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--device cuda` where CUDA is absent makes main() return 2 with a line mentioning CUDA."""
    assert main(["generate", "--model", str(nemotron_h_dir), "--device", "cuda"]) == 2
    assert "CUDA" in _single_error_line(capsys.readouterr().err)


def test_bad_checkpoint_in_process_exits_2(
    nemotron_h_dir: Path, tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Corrupt weights in a model directory make main() return 2 with one line naming the file."""
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text((nemotron_h_dir / "config.json").read_text())
    (bad / "model.safetensors").write_bytes(b"garbage" * 100)
    assert main(["generate", "--model", str(bad)]) == 2
    line = _single_error_line(capsys.readouterr().err)
    assert "model.safetensors" in line
    assert "corrupt or not safetensors" in line


def test_injected_fault_is_counted_or_raised(
    nemotron_h_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--inject-fault kv_double_free on two identical prompts: counted and exit 3 by default,
    exit 0 with an explicit --on-leak count, exit 3 with the leak on one line under --on-leak
    raise; clean (exit 0) without it."""
    argv = ["generate", "--model", str(nemotron_h_dir), "--max-tokens", "3", "--ignore-eos",
            "--prompt", "ab", "--prompt", "ab"]
    assert main(argv) == 0
    assert "memory check: clean" in capsys.readouterr().out
    assert main([*argv, "--inject-fault", "kv_double_free"]) == 3
    captured = capsys.readouterr()
    assert "memory check: full double_free x1" in captured.out
    assert "counted leaks: exit 3 (--on-leak count exits 0)" in captured.err
    assert main([*argv, "--inject-fault", "kv_double_free", "--on-leak", "count"]) == 0
    assert "memory check: full double_free x1" in capsys.readouterr().out
    assert main([*argv, "--inject-fault", "kv_double_free", "--on-leak", "raise"]) == 3
    line = _single_error_line(capsys.readouterr().err)
    assert "memory invariant broken: full: double_free of" in line
