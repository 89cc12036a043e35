"""The README and docs/ pages as a newcomer reads them: the first screen has the agreed parts,
every relative link resolves, and every `bash` example runs as written against a real server
(its port substituted), except blocks marked `<!-- readme-test: skip (reason) -->`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import start_serve, stop_process

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SKIP_RE = re.compile(r"<!-- readme-test: skip \((.+)\) -->")
FENCE_RE = re.compile(r"^```(\S*)\n(.*?)^```$", re.S | re.M)
LINK_RE = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")
README_PORT = "127.0.0.1:8000"
BLOCK_TIMEOUT_S = 300


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    code: str
    skip_reason: str | None


def _blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE_RE.finditer(text):
        if match.group(1) != "bash":
            continue
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP_RE.fullmatch(before.strip())
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(page.relative_to(REPO).as_posix(), line, match.group(2),
                           skip.group(1) if skip else None))
    return found


ALL_BLOCKS = [b for page in PAGES for b in _blocks(page)]
RUN_BLOCKS = [b for b in ALL_BLOCKS if b.skip_reason is None]


def test_first_screen_has_the_agreed_parts() -> None:
    """The README is: what it is, the two commands, what you will see, the command, how it runs
    with its measured table, next steps."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings == ["Quick start", "What you will see", "The `poolscope` command",
                        "How it runs, and what it costs", "Where to go next"]
    assert "bash scripts/run.sh" in text and "bash scripts/test.sh" in text
    assert "random weights" in text and "source .venv/bin/activate" in text
    assert len(text.splitlines()) < 135  # depth lives in docs/


def test_every_relative_link_resolves() -> None:
    """Every relative link in the README and docs/ names a file that exists."""
    missing = []
    for page in PAGES:
        for target, _ in LINK_RE.findall(page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            if not (page.parent / target).exists():
                missing.append(f"{page.relative_to(REPO)} -> {target}")
    assert missing == []


def test_skipped_blocks_say_why_and_most_blocks_run() -> None:
    """Skips carry a reason, and the README's own examples all run."""
    assert all(b.skip_reason.strip() for b in ALL_BLOCKS if b.skip_reason is not None)
    readme = [b for b in ALL_BLOCKS if b.page == "README.md"]
    assert sum(b.skip_reason is None for b in readme) >= 3
    assert len(RUN_BLOCKS) >= 10


@pytest.fixture(scope="module")
def server(hybrid_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    """`poolscope serve --model default` (what scripts/run.sh runs) on a free port, with the
    default model already built in a temporary cache; stopped by PID afterwards."""
    env = {**os.environ, "POOLSCOPE_CACHE_DIR": str(hybrid_dir.parent.parent)}
    cmd = [sys.executable, "-m", "runtime.cli", "serve", "--model", "default", "--port", "0"]
    log = tmp_path_factory.mktemp("readme") / "serve.log"
    with open(log, "w") as out:
        proc, url = start_serve(cmd, stdout=out, env=env, cwd=REPO)
    try:
        yield url.removeprefix("http://"), env
    finally:
        stop_process(proc, timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("block", RUN_BLOCKS, ids=lambda b: f"{b.page}:{b.line}")
def test_example_runs_as_written(block: Block, server: tuple[str, dict]) -> None:
    """The block exits 0 in a fresh bash (errexit, pipefail) from the repo root, against the
    server; a curl in it gets an answer."""
    address, env = server
    code = block.code.replace(README_PORT, address)
    proc = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", code], capture_output=True, text=True, cwd=REPO,
        env=env, timeout=BLOCK_TIMEOUT_S, check=False,
    )
    assert proc.returncode == 0, f"{block.page}:{block.line}\n{proc.stdout}\n{proc.stderr}"
    if "curl" in code:
        assert proc.stdout.strip(), proc.stderr
    if "--demo" in code:  # the demo's exit status says a leak was counted
        assert "exit 3" in proc.stdout
