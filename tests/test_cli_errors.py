"""The first errors a newcomer meets are one line that says what to do: a port in use names the
address and --port, a log folder given as a log file is called a folder."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.cli.main import main


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port something already listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.startswith("poolscope: error:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.parametrize(
    "verb",
    [["alert-sink"], ["logs", "export", "{log}"], ["serve", "--model", "{model}"]],
    ids=["alert-sink", "logs-export", "serve"],
)
def test_port_in_use_names_the_address_and_the_flag(
    verb: list[str], busy_port: int, tmp_path: Path, nemotron_h_dir: Path
) -> None:
    """A verb told to listen on a busy port exits 2 with one line naming host:port and --port."""
    log = tmp_path / "a.log"
    log.write_text("")
    argv = [a.format(log=log, model=nemotron_h_dir) for a in verb]
    proc = subprocess.run([sys.executable, "-m", "runtime.cli", *argv, "--port", str(busy_port)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 2
    line = _one_error_line(proc.stderr)
    assert f"cannot listen on 127.0.0.1:{busy_port}: the address is already in use" in line
    assert f"--port {busy_port + 1}" in line and "--port 0" in line
    assert "Errno" not in line


@pytest.mark.parametrize("command", ["summary", "convert", "plot"])
def test_a_folder_is_called_a_folder(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`poolscope logs COMMAND DIR` says DIR is a folder and lists the files it holds."""
    (tmp_path / "server.log").write_text("")
    extra = ["-o", str(tmp_path / "x.png")] if command == "plot" else []
    assert main(["logs", command, str(tmp_path), *extra]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"{tmp_path} is a folder, not a log file" in line and "server.log" in line


def test_a_followed_folder_is_called_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`logs export DIR --follow` refuses the folder at once instead of waiting for a file."""
    assert main(["logs", "export", str(tmp_path), "--follow", "--port", "0"]) == 2
    assert "is a folder, not a log file" in _one_error_line(capsys.readouterr().err)


def test_missing_log_file_is_still_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path that does not exist keeps the `no such log file` line."""
    assert main(["logs", "summary", str(tmp_path / "nope.log")]) == 2
    assert "no such log file" in _one_error_line(capsys.readouterr().err)
