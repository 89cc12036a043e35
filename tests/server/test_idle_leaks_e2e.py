"""Leaks that happen while the server is idle reach /metrics with no further traffic: a real
`poolscope serve` subprocess, driven only over HTTP, with the real /metrics text read back.

Fault points reachable while idle (runtime/memory/faults.py): `session_close_leaks_mamba` and
`kv_double_free` (a session closed or expired frees its slots), `session_mamba_revert_free` (a
session turn that cannot fit even alone is reverted and dropped without a step running). Not
reachable: `session_double_count` exists only while a turn runs, `swa_skip_free` only in decode
steps; both are seen by the check after a step or on going idle.

Before each idle-time event the test waits, in the server's own log, for the idle_check that
follows the last finished request, so the event surely comes after the engine went idle.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import start_serve, stop_process, wait_until

pytestmark = pytest.mark.slow

LEAKS, CHECKS = "poolscope_memory_leaks_total", "poolscope_memory_checks_total"
SESSIONS, LEAKED = "poolscope_sessions_open", "poolscope_pool_leaked_slots"
TIMEOUT_S = 60.0  # generous for a loaded machine; no timing is asserted


@dataclass
class Server:
    client: httpx.Client
    log: Path

    def metric(self, name: str, **labels: str) -> float:
        """One sample from the real /metrics text (0 when the series is absent)."""
        text = self.client.get("/metrics").text
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    return s.value
        return 0.0

    def turn(self, prompt: list[int], sid: str | None = None, n: int = 2) -> httpx.Response:
        body = {"prompt": prompt, "max_tokens": n, "temperature": 0, "ignore_eos": True}
        return self.client.post("/v1/completions", json=body | ({"session_id": sid} if sid else {}))

    def open_session(self) -> str:
        return self.client.post("/v1/sessions", json={}).json()["id"]

    def events(self) -> list[dict]:
        """The server's log events so far (a line still being written is left out)."""
        return [json.loads(line) for line in self.log.read_text().split("\n")[:-1]]

    def triggers(self) -> list[str]:
        """Why each idle check the server logged ran."""
        return [e["trigger"] for e in self.events() if e["event"] == "idle_check"]

    def wait_idle_logged(self) -> None:
        """Until the log shows an idle_check after the last request_finished."""

        def idle() -> bool:
            names = [e["event"] for e in self.events()]
            finished = [i for i, name in enumerate(names) if name == "request_finished"]
            return bool(finished) and "idle_check" in names[finished[-1] :]

        wait_until(idle, TIMEOUT_S)


@contextmanager
def serve(model: Path, tmp_path: Path, *flags: str) -> Iterator[Server]:
    log = tmp_path / "poolscope.jsonl"
    cmd = [sys.executable, "-m", "runtime.cli", "serve", "--model", str(model), "--port", "0",
           "--log-file", str(log), *flags]
    proc, url = start_serve(cmd)
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            yield Server(client, log)
    finally:
        stop_process(proc, timeout=30)


def _drive(server: Server) -> str:
    """Three completions, then a session with three turns; returns the session id."""
    for start in (100, 200, 300):
        assert server.turn(list(range(start, start + 12))).status_code == 200
    sid = server.open_session()
    for start in (10, 40, 70):
        assert server.turn(list(range(start, start + 8)), sid).status_code == 200
    server.wait_idle_logged()
    return sid


@pytest.mark.parametrize(
    ("fault", "pool", "kind"),
    [("session_close_leaks_mamba", "mamba", "leak"), ("kv_double_free", "full", "double_free")],
)
def test_a_session_closed_while_idle_shows_its_leak(
    fault: str, pool: str, kind: str, nemotron_h_dir: Path, tmp_path: Path
) -> None:
    """After DELETE on an idle server (busy checker as in the report), the closed session's leak
    is on /metrics with no further request, and a later periodic check does not count it again."""
    with serve(nemotron_h_dir, tmp_path, "--inject-fault", fault, "--mem-check", "busy") as s:
        sid = _drive(s)
        before = s.metric(LEAKS, pool=pool, kind=kind)
        assert s.client.delete(f"/v1/sessions/{sid}").status_code == 200
        wait_until(lambda: s.metric(LEAKS, pool=pool, kind=kind) > before, TIMEOUT_S)
        counted = s.metric(LEAKS, pool=pool, kind=kind)
        checks = s.metric(CHECKS, pool=pool, mode="idle")
        wait_until(
            lambda: s.metric(CHECKS, pool=pool, mode="idle") > checks, TIMEOUT_S
        )  # a periodic check
        assert s.metric(LEAKS, pool=pool, kind=kind) == counted == before + 1
        assert s.metric(LEAKED, pool=pool) != 0


def test_a_session_that_expires_while_idle_shows_its_leak(
    nemotron_h_dir: Path, tmp_path: Path
) -> None:
    """A session left to expire on an idle server: its leaked mamba slot is on /metrics once the
    session is gone, with no request after its last turn."""
    flags = ("--inject-fault", "session_close_leaks_mamba", "--session-timeout", "2")
    with serve(nemotron_h_dir, tmp_path, *flags) as s:
        sid = s.open_session()
        for start in (10, 40):
            assert s.turn(list(range(start, start + 8)), sid).status_code == 200
        assert s.metric(LEAKS, pool="mamba", kind="leak") == 0
        wait_until(lambda: s.metric(SESSIONS) == 0, TIMEOUT_S)
        wait_until(lambda: s.metric(LEAKS, pool="mamba", kind="leak") == 1, TIMEOUT_S)


def test_a_session_turn_dropped_while_idle_shows_its_double_free(
    nemotron_h_dir: Path, tmp_path: Path
) -> None:
    """A session turn that cannot fit beside another idle session (too young to be evicted) is
    reverted (the fault frees the session's mamba slot), waits, and is dropped as pools-busy
    without a step running: the double free is on /metrics with no further request, and the
    drop ran the check."""
    flags = ("--inject-fault", "session_mamba_revert_free", "--full-tokens", "64",
             "--mamba-slots", "8", "--session-min-idle", "600", "--queue-timeout", "2")
    with serve(nemotron_h_dir, tmp_path, *flags) as s:
        big, small = s.open_session(), s.open_session()
        assert s.turn(list(range(10, 50)), big).status_code == 200  # holds 41 of 64 KV slots
        assert s.turn(list(range(60, 70)), small).status_code == 200  # 11 more
        s.wait_idle_logged()
        assert s.metric(LEAKS, pool="mamba", kind="double_free") == 0
        dropped = s.turn(list(range(100, 130)), small)  # needs 30 more: waits, then pools-busy
        assert dropped.status_code == 503 and "pools_busy" in dropped.text
        wait_until(lambda: s.metric(LEAKS, pool="mamba", kind="double_free") == 1, TIMEOUT_S)
        assert "abort" in s.triggers()  # checked when dropped, not only by the periodic check
