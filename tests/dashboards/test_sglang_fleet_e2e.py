"""The SGLang fleet view end to end: Debian's `prometheus` scrapes three SGLang stand-ins (two of
main 2026-08, one of them with one DP rank's full pool at 0.9, and one of 0.3.6, which has only
token_usage) as job `sglang`, and two real `poolscope logs export` processes of SGLang logs (one
with a leak message) as job `poolscope`. Every fleet panel query returns data, ranks are
aggregated per server before summing over servers, the fullest server ranks first, and the
leaky log ranks first on the leak table."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import yaml

from dashboards import sglang_alerts, stack
from dashboards.build import GENERATED
from dashboards.panel_spec import PanelSpec, Viz
from dashboards.sglang_fleet_serving_memory import panel_specs
from tests.dashboards.processes import log_exporter, prometheus, serve_metrics
from tests.dashboards.sglang_eras import eras
from tests.dashboards.test_sglang_eras import _wait_for_scrapes, for_target
from tests.support import free_port, query

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs Debian's prometheus"),
]
DECODE = ("Decode batch, #running-req: 4, #full token: 812, full token usage: 0.41, "
          "#swa token: 96, swa token usage: 0.12, cuda graph: True, "
          "gen throughput (token/s): 311.20, #queue-req: 0, ")
MAMBA_LEAK = ("[2025-03-01 12:00:00 TP0] Mamba memory leak detected! mamba_available_size=3, "
              "mamba_evictable_size=1, self.mamba_pool.size=16")
FULL_RANK = 'sglang:full_token_usage{model_name="meta-llama/Llama-3.1-8B-Instruct",'


def _stand_ins() -> list[str]:
    """Two main-2026-08 servers (the second with DP rank 1's full pool at 0.9) and a 0.3.6."""
    newest, oldest = (next(e.text for e in eras() if e.release == r)
                      for r in ("main-2026-08", "0.3.6"))
    fuller = "\n".join(line.replace("} 0.42", "} 0.9")
                       if line.startswith(FULL_RANK) and 'dp_rank="1"' in line else line
                       for line in newest.splitlines()) + "\n"
    assert fuller != newest
    return [newest, fuller, oldest]


@contextmanager
def exporter(log: Path) -> Iterator[str]:
    """`poolscope logs export LOG` (read once, then served) on a free port; its target."""
    port = free_port()
    with log_exporter(log, port):
        yield f"127.0.0.1:{port}"


def _config(tmp: Path, servers: list[str], exporters: list[str]) -> Path:
    jobs = [(stack.SGLANG_SCRAPE_JOB, servers), (stack.POOLSCOPE_SCRAPE_JOB, exporters)]
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(GENERATED / sglang_alerts.RULES_FILE)],
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": targets}]}
                           for job, targets in jobs],
    }
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _values(prom: str, expr: str) -> list[tuple[dict, float]]:
    return [(r["metric"], float(r["value"][1])) for r in query(prom, for_target(expr, ".*"))]


def _panel(title: str) -> PanelSpec:
    return next(spec for spec in panel_specs() if spec.title.startswith(title))


def test_sglang_fleet_panels_have_data_and_rank_servers(tmp_path: Path) -> None:
    """Every SGLang fleet panel query returns finite data; tables name one of the targets in
    every row; the server with a DP rank at 0.9 tops the full pool table; running requests sum
    per DP rank, then over servers (12 per rank: 24 + 24 + 12); the leaky log tops the leaks."""
    logs = {"healthy": [DECODE], "leaky": [DECODE, MAMBA_LEAK]}
    for name, lines in logs.items():
        (tmp_path / f"{name}.log").write_text("\n".join(lines) + "\n")
    with ExitStack() as stack_:
        servers = stack_.enter_context(serve_metrics(_stand_ins()))
        exporters = [stack_.enter_context(exporter(tmp_path / f"{n}.log")) for n in logs]
        prom = stack_.enter_context(prometheus(_config(tmp_path, servers, exporters), tmp_path))
        _wait_for_scrapes(prom, len(servers) + len(exporters))
        for spec in panel_specs():
            for q in spec.queries:
                values = _values(prom, q.expr)
                assert any(math.isfinite(v) for _, v in values), (spec.title, q.expr)
                if spec.viz is Viz.TABLE:
                    assert {m["instance"] for m, _ in values} <= {*servers, *exporters}
        full = _values(prom, _panel("Usage of the full pool on every").queries[0].expr)
        assert [m["instance"] for m, _ in full][0] == servers[1] and full[0][1] == 0.9
        assert len(full) == len(servers)  # 0.3.6 through token_usage
        running, _ = _panel("Running and queued requests by model").queries
        assert [v for _, v in _values(prom, running.expr)] == [60.0]
        leaks = _values(prom, _panel("Leaks and double frees per instance").queries[0].expr)
        assert leaks[0][0]["instance"] == exporters[1] and leaks[0][1] > 0, leaks
        for rule in sglang_alerts.fleet_rules().rules():
            query(prom, rule.expr)  # asserts status success
