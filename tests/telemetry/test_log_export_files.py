"""Tests for `poolscope logs export` over a glob (telemetry.export.log_files and .exporter):
Kubernetes pod log files in the CRI format, each followed with its own `source`, new files
picked up, rotated copies never read twice, gone files let go; read from the real /metrics."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest
from structlog.testing import capture_logs

from runtime.cli.main import main
from telemetry import catalog
from telemetry.export.exporter import LogExporter
from telemetry.export.log_files import is_rotated, matching_files, source_of
from telemetry.export.settings import ExportSettings
from telemetry.export.tail import FOUND, GONE, TailSettings
from tests.telemetry.test_log_exporter import running_exporter, scrape_until, value

pytestmark = pytest.mark.usefixtures("fresh_logging")

UID = "0f6c3d2e-5b1a-4c8e-9d7f-1a2b3c4d5e6f"
TIME = "2026-12-05T10:00:00.123456789Z"
QUEUED, LEAKS = catalog.REQUESTS_QUEUED, catalog.MEMORY_LEAKS


def decode(queued: int) -> str:
    return (f"Decode batch, #running-req: 1, #token: 10, token usage: 0.10, cuda graph: False, "
            f"gen throughput (token/s): 9.00, #queue-req: {queued}")


def kv_leak(available: int) -> str:
    return (f"token_to_kv_pool_allocator memory leak detected! available_size={available}, "
            "protected_size=0, self.max_total_num_tokens=100")


def cri_lines(*lines: str) -> str:
    """Lines as containerd writes them, the second half of each line in an `F` entry after a
    `P` one, so that every test also joins partial lines."""
    out = []
    for line in lines:
        half = len(line) // 2
        out += [f"{TIME} stdout P {line[:half]}\n", f"{TIME} stdout F {line[half:]}\n"]
    return "".join(out)


def pod_log(root: Path, pod: str, restart: int = 0, namespace: str = "serving") -> Path:
    path = root / f"{namespace}_{pod}_{UID}" / "sglang" / f"{restart}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def append(path: Path, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


@contextmanager
def exporting(
    pattern: str, follow: bool = True, gone_s: float = 60, source: str | None = None
) -> Iterator[str]:
    """An exporter over `pattern` on a free port, reading on a thread; yields its /metrics URL."""
    settings = ExportSettings(TailSettings(Path(pattern), from_start=True), follow=follow,
                              port=0, source=source, poll_s=0.02, rescan_s=0.05,
                              gone_s=gone_s)
    with running_exporter(settings) as url:
        yield url


def test_sources_come_from_the_path() -> None:
    """A pod log's source is namespace/pod/container (by its folders, or by the name of
    kubelet's link to it), a Docker log's the short id, any other file's its path below the
    glob's fixed folders."""
    pattern = "/var/log/pods/*_sglang*_*/*/*.log"
    pod = Path(f"/var/log/pods/serving_sglang-0_{UID}/sglang/1.log")
    assert source_of(pod, pattern) == "serving/sglang-0/sglang"
    link = Path(f"/var/log/containers/sglang-0_serving_sglang-{'c' * 64}.log")
    assert source_of(link, "/var/log/containers/sglang*.log") == "serving/sglang-0/sglang"
    docker_id = "ab" * 32
    docker = Path(f"/var/lib/docker/containers/{docker_id}/{docker_id}-json.log")
    assert source_of(docker, "/var/lib/docker/containers/*/*-json.log") == "abababababab"
    assert source_of(Path("/logs/node-3/sglang.log"), "/logs/*/sglang.log") == "node-3/sglang.log"


def test_a_file_named_like_a_glob_is_that_file(tmp_path: Path) -> None:
    """A path with glob characters that is an existing file is read as that one file."""
    path = tmp_path / "sglang[1].log"
    path.write_text(decode(3) + "\n")
    assert not ExportSettings(TailSettings(path)).is_glob
    assert ExportSettings(TailSettings(tmp_path / "sglang[2].log")).is_glob


def test_rotated_copies_are_not_matched(tmp_path: Path) -> None:
    """kubelet's, Docker's and logrotate's rotated names, compressed or half-compressed copies
    and folders are left out of a glob's matches; live logs are kept."""
    rotated = ["0.log.20261205-100000", "0.log.20261205-100000.gz", "0.log.20261205-100000.tmp",
               "x-json.log.1", "s.log.2.gz", "s.log-20261205", "old.gz"]
    live = ["0.log", "1.log", "x-json.log", "sglang.log"]
    assert [name for name in rotated + live if is_rotated(name)] == rotated
    for name in rotated + live:
        (tmp_path / name).write_text("")
    (tmp_path / "dir.log").mkdir()
    assert [p.name for p in matching_files(str(tmp_path / "*"))] == sorted(live)


def test_glob_follows_each_pod_log_with_its_own_source_and_picks_up_new_ones(
    tmp_path: Path,
) -> None:
    """Two pods' CRI logs are served side by side under their own sources; a pod log that
    appears later is found and read from its start."""
    first, second = pod_log(tmp_path, "sglang-0"), pod_log(tmp_path, "sglang-1")
    first.write_text(cri_lines(decode(3)))
    second.write_text(cri_lines(decode(5), kv_leak(10)))
    with capture_logs() as logs, exporting(str(tmp_path / "*_sglang*_*" / "*" / "*.log")) as url:
        scrape_until(url, lambda s: value(s, QUEUED, source="serving/sglang-0/sglang") == 3
                 and value(s, QUEUED, source="serving/sglang-1/sglang") == 5)
        leak = {"source": "serving/sglang-1/sglang", "pool": "full", "kind": "leak"}
        scrape_until(url, lambda s: value(s, LEAKS, **leak) == 1)
        late = pod_log(tmp_path, "sglang-2", namespace="other")
        late.write_text(cri_lines(decode(7)))
        scrape_until(url, lambda s: value(s, QUEUED, source="other/sglang-2/sglang") == 7)
    found = [e["file"] for e in logs if e.get("reason") == FOUND]
    assert found == [str(late)]


def test_rotation_reads_the_new_file_and_never_the_rotated_copy_again(tmp_path: Path) -> None:
    """kubelet's rotation (0.log renamed to 0.log.<time>, a new 0.log) is followed: the new
    file's lines show, and the leak in the rotated copy is counted once, not again."""
    live = pod_log(tmp_path, "sglang-0")
    live.write_text(cri_lines(decode(3), kv_leak(10)))
    source = "serving/sglang-0/sglang"
    leak = {"source": source, "pool": "full", "kind": "leak"}
    with exporting(str(tmp_path / "*" / "*" / "*.log*")) as url:
        scrape_until(url, lambda s: value(s, LEAKS, **leak) == 1)
        live.rename(live.with_name("0.log.20261205-100000"))
        live.write_text(cri_lines(decode(4)))
        scrape_until(url, lambda s: value(s, QUEUED, source=source) == 4)
        append(live, cri_lines(decode(6)))
        samples = scrape_until(url, lambda s: value(s, QUEUED, source=source) == 6)
    assert value(samples, LEAKS, **leak) == 1
    assert {dict(labels)["source"] for _, labels in samples} == {source}


def test_a_container_restart_shares_its_source_and_a_gone_pod_is_let_go(tmp_path: Path) -> None:
    """0.log and 1.log of one container feed one source (lines counted from both); a pod
    whose log folder is deleted is let go and its series leave /metrics."""
    old, new = pod_log(tmp_path, "sglang-0"), pod_log(tmp_path, "sglang-0", restart=1)
    old.write_text(cri_lines(decode(3)))
    new.write_text(cri_lines(decode(4)))
    other = pod_log(tmp_path, "sglang-1")
    other.write_text(cri_lines(decode(8)))
    source, parsed = "serving/sglang-0/sglang", {"result": "parsed"}
    with capture_logs() as logs, exporting(str(tmp_path / "*/*/*.log"), gone_s=0.2) as url:
        scrape_until(url, lambda s: value(s, catalog.LOG_LINES, source=source, **parsed) == 2)
        for path in (old, new):
            path.unlink()
        path.parent.rmdir()
        scrape_until(url, lambda s: value(s, QUEUED, source=source) is None
                 and value(s, QUEUED, source="serving/sglang-1/sglang") == 8)
    assert sorted(e["file"] for e in logs if e.get("reason") == GONE) == [str(old), str(new)]


def test_a_glob_read_once_serves_every_file(tmp_path: Path) -> None:
    """Without --follow every matching file is read once and its figures kept served."""
    pod_log(tmp_path, "sglang-0").write_text(cri_lines(decode(3)))
    pod_log(tmp_path, "sglang-1").write_text(decode(5) + "\n")  # a bare log beside
    with exporting(str(tmp_path / "*/*/*.log"), follow=False) as url:
        scrape_until(url, lambda s: value(s, QUEUED, source="serving/sglang-0/sglang") == 3
                 and value(s, QUEUED, source="serving/sglang-1/sglang") == 5)


def test_a_given_source_goes_before_each_files_own(tmp_path: Path) -> None:
    """With a glob, `source` is put before the source each file's path gives."""
    pod_log(tmp_path, "sglang-0").write_text(cri_lines(decode(3)))
    with exporting(str(tmp_path / "*/*/*.log"), source="node-3") as url:
        source = "node-3/serving/sglang-0/sglang"
        samples = scrape_until(url, lambda s: value(s, QUEUED, source=source) == 3)
    assert {dict(labels)["source"] for _, labels in samples} == {"node-3/serving/sglang-0/sglang"}


def test_cli_a_glob_read_once_matching_nothing_exits_2(tmp_path: Path, capsys) -> None:
    """A glob without --follow that matches no file is one error line and exit 2."""
    pattern = str(tmp_path / "*.log")
    assert main(["logs", "export", pattern, "--port", "0"]) == 2
    assert "no log file matches" in capsys.readouterr().err


def test_a_followed_docker_log_joins_a_line_split_across_reads(tmp_path: Path) -> None:
    """A Docker json-file log followed by its short id: a line cut into two entries that
    arrive in different reads is one line, and shows once its last piece is written."""
    docker_id = "ab" * 32
    path = tmp_path / docker_id / f"{docker_id}-json.log"
    path.parent.mkdir()
    line = decode(6)
    piece = orjson.dumps({"log": line[:30], "stream": "stdout", "time": TIME}).decode()
    path.write_text(piece + "\n")
    with exporting(str(tmp_path / "*" / "*-json.log")) as url:
        scrape_until(url, lambda s: value(s, catalog.LOG_LINES, source=docker_id[:12],
                                      result="parsed") == 0)
        rest = orjson.dumps({"log": line[30:] + "\n", "stream": "stdout", "time": TIME})
        append(path, rest.decode() + "\n")
        scrape_until(url, lambda s: value(s, QUEUED, source=docker_id[:12]) == 6)



class _StopMidRescan(threading.Event):
    """A stop that lands while the caller's thread is about to match the glob again: its
    first wait there sets the stop, lets the readers end on it, and reports a timeout."""

    def __init__(self) -> None:
        super().__init__()
        self._caller = threading.current_thread()

    def wait(self, timeout: float | None = None) -> bool:
        if threading.current_thread() is not self._caller or self.is_set():
            return super().wait(timeout)
        self.set()
        time.sleep(0.3)  # the readers see the stop and end
        return False


def test_a_stop_during_a_rescan_finds_no_file_again(tmp_path: Path) -> None:
    """Readers that end because the exporter stops are not files gone and back: a stop that
    lands just before the glob is matched again logs no file as found."""
    for pod in range(3):
        pod_log(tmp_path, f"sglang-{pod}").write_text(cri_lines(decode(pod)))
    pattern = str(tmp_path / "*_sglang*_*" / "*" / "*.log")
    settings = ExportSettings(TailSettings(Path(pattern), from_start=True), follow=True, port=0)
    exporter = LogExporter(settings).start()
    try:
        with capture_logs() as logs:
            exporter.run(_StopMidRescan())
    finally:
        exporter.close()
    assert [e["file"] for e in logs if e.get("reason") == FOUND] == []
