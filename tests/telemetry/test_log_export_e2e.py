"""End to end: a real `poolscope logs export FILE --follow` process scraped every second by
Debian's `prometheus` on loopback with the generated poolscope rule file. The test appends SGLang
lines in every form the parser reads (and our JSON and text lines), rotates the file once, then
appends a leak message: the usage series follow the lines, across the rotation, and
PoolscopeMemoryLeak fires for the leak's pool."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import yaml

from dashboards.alerts import RULES_FILE
from dashboards.build import GENERATED
from telemetry import catalog
from telemetry.logs.text_layout import render_text
from tests.dashboards.processes import log_exporter, prometheus
from tests.support import firing, free_port, query, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs Debian's prometheus"),
]

SOURCE = "sglang-e2e"
INTERVAL = "1s"  # scrape and rule evaluation, to keep the test short
STEP_TIMEOUT_S = 10.0  # one step: the next scrape, and a rule evaluation after it
USAGE = catalog.POOL_USAGE.prometheus_name
_OURS = {"event": catalog.DECODE_BATCH.name, "timestamp": "2026-11-21T10:00:00.123Z",
         "running_req": 2, "token": 40, "token_usage": 0.36, "kv_token_usage": 0.26,
         "full_token": 40, "full_token_usage": 0.26, "swa_token": 30, "swa_token_usage": 0.23,
         "mamba_num": 5, "mamba_usage": 0.36, "gen_throughput": 12.5, "queue_req": 0}

# (line as written to the log, the usage per pool it must show), one per form the parser reads
FORMS = [
    ("Decode batch. #running-req: 3, #token: 420, token usage: 0.21, "
     "gen throughput (token/s): 95.50, #queue-req: 1", {"full": 0.21}),
    ("[2024-08-10 10:00:00 TP0] Decode batch. #running-req: 2, #token: 300, token usage: 0.15, "
     "gen throughput (token/s): 50.00, #queue-req: 0", {"full": 0.15}),
    ("[gpu=0] Decode batch. #running-req: 1, #token: 30, token usage: 0.03, "
     "gen throughput (token/s): 20.00, #queue-req: 0", {"full": 0.03}),
    ("Decode batch [123], #running-req: 2, #token: 50, token usage: 0.02, accept len: 2.35, "
     "cuda graph: False, gen throughput (token/s): 88.10, #queue-req: 0, ", {"full": 0.02}),
    ("[2025-01-01 10:00:00 DP0 TP3] Decode batch, #running-req: 4, #full token: 812, "
     "full token usage: 0.41, #swa token: 96, swa token usage: 0.12, cuda graph: True, "
     "gen throughput (token/s): 311.20, #queue-req: 0, ", {"full": 0.41, "swa": 0.12}),
    ("Decode batch, #running-req: 4, #token: 812, token usage: 0.50, mamba num: 12, "
     "mamba usage: 0.75, cuda graph: True, gen throughput (token/s): 40.00, #queue-req: 5",
     {"full": 0.5, "mamba": 0.75}),
    ("Decode batch, #running-req: 1, #gpu token: 10, gpu token usage: 0.10, "
     "#cpu token: 100, cpu token usage: 0.20, cuda graph: False, "
     "gen throughput (token/s): 9.00, #queue-req: 0", {"full": 0.1, "host": 0.2}),
    ("[2024-08-10 10:00:01 TP0] Prefill batch. #new-seq: 1, #new-token: 7, #cached-token: 1, "
     "cache hit rate: 12.50%, token usage: 0.30, #running-req: 0, #queue-req: 0", {"full": 0.3}),
    ("Prefill batch(mixed #running-req: 3). #new-seq: 2, #new-token: 64, #cached-token: 0, "
     "cache hit rate: 0.00%, token usage: 0.31, #queue-req: 4", {"full": 0.31}),
    ("Prefill batch [77], #new-seq: 1, #new-token: 512, #cached-token: 256, "
     "full token usage: 0.20, swa token usage: 0.10, #running-req: 5, #queue-req: 0, "
     "#prealloc-req: 2, #inflight-req: 1, input throughput (token/s): 20480.50, ",
     {"full": 0.2, "swa": 0.1}),
    (orjson.dumps(_OURS).decode(), {"full": 0.26, "swa": 0.23, "mamba": 0.36}),
    (render_text({**_OURS, "full_token_usage": 0.27, "swa_token_usage": 0.24}),
     {"full": 0.27, "swa": 0.24}),
]
OLD_FILE_LAST = ("Decode batch, #running-req: 4, #token: 800, token usage: 0.45, mamba num: 9, "
                 "mamba usage: 0.6, cuda graph: True, gen throughput (token/s): 40.00, "
                 "#queue-req: 0", {"full": 0.45, "mamba": 0.6})
NEW_FILE = [
    ("Decode batch, #running-req: 4, #full token: 900, full token usage: 0.66, "
     "#swa token: 80, swa token usage: 0.55, cuda graph: True, "
     "gen throughput (token/s): 300.00, #queue-req: 0, ", {"full": 0.66, "swa": 0.55}),
    ("Decode batch, #running-req: 1, #gpu token: 11, gpu token usage: 0.11, "
     "#cpu token: 101, cpu token usage: 0.21, cuda graph: False, "
     "gen throughput (token/s): 9.00, #queue-req: 0", {"full": 0.11, "host": 0.21}),
]
MAMBA_LEAK = ("[2025-03-01 12:00:00 TP0] Mamba memory leak detected! mamba_available_size=3, "
              "mamba_evictable_size=1, self.mamba_pool.size=16")


def prometheus_config(tmp: Path, target: str) -> Path:
    """One static target, the generated poolscope rule file, 1 s intervals."""
    config = {
        "global": {"scrape_interval": INTERVAL, "evaluation_interval": INTERVAL},
        "rule_files": [str(GENERATED / RULES_FILE)],
        "scrape_configs": [{"job_name": "poolscope", "static_configs": [{"targets": [target]}]}],
    }
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def wait_until_named(what: str, condition: Callable[[], bool]) -> None:
    wait_until(condition, STEP_TIMEOUT_S, interval=0.2, what=what)


def usage(prom: str) -> dict[str, float]:
    result = query(prom, f'{USAGE}{{source="{SOURCE}"}}')
    return {r["metric"]["pool"]: float(r["value"][1]) for r in result}


def append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(line + "\n")


def follows(prom: str, expected: dict[str, float]) -> Callable[[], bool]:
    """Whether Prometheus now holds these usages (other pools keep their last figures)."""
    return lambda: expected.items() <= usage(prom).items()


def test_usage_follows_every_form_across_rotation_and_the_leak_alert_fires(
    tmp_path: Path,
) -> None:
    """Each appended line's usage shows in Prometheus, the old file's last line and then the new
    file's lines show after a rotation, and a mamba leak message fires PoolscopeMemoryLeak for
    the mamba pool of this source only."""
    log = tmp_path / "sglang.log"
    log.write_text("")
    port = free_port()
    with (
        log_exporter(log, port, "--follow", "--source", SOURCE, timeout=STEP_TIMEOUT_S) as proc,
        prometheus(prometheus_config(tmp_path, f"127.0.0.1:{port}"), tmp_path) as prom,
    ):
        wait_until_named("the first scrape", lambda: bool(query(prom, 'up{job="poolscope"} == 1')))
        for line, expected in FORMS:
            append(log, line)
            wait_until_named(f"{expected} from {line!r}", follows(prom, expected))
        log.rename(tmp_path / "sglang.log.1")
        append(tmp_path / "sglang.log.1", OLD_FILE_LAST[0])  # the writer has not reopened yet
        for line, expected in NEW_FILE:
            append(log, line)
            wait_until_named(f"{expected} from the new file", follows(prom, expected))
        assert usage(prom)["mamba"] == OLD_FILE_LAST[1]["mamba"]  # the old file was finished
        append(log, MAMBA_LEAK)
        wait_until_named("the leak alert", lambda: any(
            a["labels"]["alertname"] == "PoolscopeMemoryLeak" for a in firing(prom)))
        fired = firing(prom)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    leaks = {(a["labels"]["alertname"], a["labels"]["pool"], a["labels"]["source"])
             for a in fired if "pool" in a["labels"]}
    assert leaks == {("PoolscopeMemoryLeak", "mamba", SOURCE)}
