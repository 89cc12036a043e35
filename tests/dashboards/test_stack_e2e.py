"""End to end without Docker: two real runtimes (one with a fault point and the host tier on, one
healthy without the host tier) scraped by Debian's `prometheus` on loopback with the generated
scrape job and rule file, alerting Debian's Alertmanager with the generated routes, which posts to
`poolscope alert-sink`'s receiver. After load, every dashboard panel query and every alert
expression evaluates, each panel query returns data (the host-tier row's only where the tier is
on), the panels keep the two runtimes apart (the faulty one's slot partition is its own), the
bottleneck stat names one pool per runtime, and the double-free alert fires for the faulty
runtime's pools only and reaches the sink by the critical route."""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from dashboards.alertmanager_config import ALERTMANAGER_FILE, RouteTimings, alertmanager_document
from dashboards.alerts import RULES_FILE, alert_rules
from dashboards.build import GENERATED, to_yaml
from dashboards.panel_spec import PanelSpec
from dashboards.panels_memory import DEVICE_POOLS, HOST_POOL, bottleneck_pool, host_tier
from dashboards.panels_memory import slot_partition as partition_panel
from dashboards.prometheus_config import PROMETHEUS_FILE
from dashboards.promql import RATE_WINDOW, selector
from dashboards.serving_memory import panel_specs
from runtime.engine.config import EngineConfig
from runtime.engine.process.client import EngineClient
from runtime.memory.checker import CheckMode
from runtime.server.app import ServerSettings
from runtime.server.serve import RunningServer
from telemetry import catalog
from telemetry.alerts.sink import AlertSink
from tests.dashboards.processes import alertmanager, prometheus
from tests.support import firing, query, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs Debian's prometheus"),
]

# Frees a finished request's KV pages twice. With the host tier, full-attention KV is given back
# through the host pool (the device buffer `full` is released by the tier itself), so the double
# frees show on the host and swa pools.
FAULT = "kv_double_free"
FAULT_POOLS = {"host", "swa"}
TEST_INTERVAL = "1s"  # scrape and evaluate every second instead of 5 s, to keep the test short
SCRAPES_BEFORE_LOAD_S = 3.0  # three scrapes at TEST_INTERVAL
WINDOW = "30s"  # stands in for Grafana's $__rate_interval
ALL = ".*"  # the instance variable's All


@dataclass
class Runtime:
    url: str
    engine: EngineClient

    @property
    def instance(self) -> str:
        return self.url.removeprefix("http://")


@contextmanager
def runtime(model: Path, **overrides: Any) -> Iterator[Runtime]:
    """A real server (uvicorn on loopback) on the model; with `host_tier=True` every pool (full,
    swa, mamba, req, host) has data."""
    config = EngineConfig(model=str(model), **overrides)
    server = RunningServer(config, ServerSettings(port=0))
    url = server.start()
    try:
        yield Runtime(url, server.engine)
    finally:
        server.stop()


def prometheus_config(tmp: Path, targets: list[str], alertmanager_url: str) -> Path:
    """The generated prometheus.yml with loopback addresses instead of compose DNS names (the
    runtimes as static targets, the test's Alertmanager), the generated rule file by path, and
    shorter intervals; nothing else changed."""
    config = yaml.safe_load((GENERATED / PROMETHEUS_FILE).read_text())
    config["global"] = {"scrape_interval": TEST_INTERVAL, "evaluation_interval": TEST_INTERVAL}
    config["rule_files"] = [str(GENERATED / RULES_FILE)]
    (manager,) = config["alerting"]["alertmanagers"]
    manager["static_configs"] = [{"targets": [alertmanager_url.removeprefix("http://")]}]
    (job,) = config["scrape_configs"]
    del job["dns_sd_configs"], job["relabel_configs"]  # DNS names exist only in compose
    job["static_configs"] = [{"targets": targets}]
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def load(url: str, num_requests: int = 12) -> None:
    """Completions with a shared prefix, plus a two-turn session left open (its slots show as
    session_held) until `close_sessions`. The first completion runs alone and is scraped before
    the rest: a latency histogram's series appears with its first sample, and `rate()` over a
    series first seen already holding every sample of a burst is 0, so the latency panels would
    stay empty whenever the whole load fell between two scrapes."""
    prefix = "Hybrid models keep several memory pools at once, and each one can fill. "

    def one(i: int) -> None:
        body = {"prompt": prefix + f"request {i} " * (i % 4 + 1), "max_tokens": 12,
                "temperature": 0, "ignore_eos": True}
        assert httpx.post(f"{url}/v1/completions", json=body, timeout=120).status_code == 200

    one(0)
    time.sleep(SCRAPES_BEFORE_LOAD_S)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(1, num_requests)))
    sid = httpx.post(f"{url}/v1/sessions", json={}).json()["id"]
    for turn in ("first turn of a session", "second turn"):
        body = {"prompt": turn, "max_tokens": 4, "session_id": sid, "temperature": 0}
        assert httpx.post(f"{url}/v1/completions", json=body, timeout=120).status_code == 200


def routes(tmp: Path, sink: AlertSink) -> Path:
    """The generated routes, posting to the test's sink, with group waits of a second."""
    fast = RouteTimings(group_wait="1s", group_interval="1s", repeat_interval="1h")
    path = tmp / ALERTMANAGER_FILE
    path.write_text(to_yaml(alertmanager_document(sink.url, critical=fast, warning=fast)))
    return path


def panel_expr(expr: str, instance: str = ALL) -> str:
    """What Grafana sends for one instance (or All) and every model."""
    return (expr.replace(RATE_WINDOW, WINDOW).replace("$instance", instance)
            .replace("$model", ".*"))


def test_panels_have_data_and_the_leak_alert_fires(hybrid_dir: Path, tmp_path: Path) -> None:
    """Every panel query returns data for the healthy runtime, every rule evaluates without
    error, and PoolscopeDoubleFree fires for the faulty runtime's host and swa pools only,
    while nothing fires for the healthy one."""
    faulty = {"faults": frozenset({FAULT}), "mem_check": CheckMode.BUSY, "host_tier": True}
    with (
        runtime(hybrid_dir) as ok,
        runtime(hybrid_dir, **faulty) as bad,
        AlertSink(port=0) as sink,
        alertmanager(routes(tmp_path, sink), tmp_path) as manager,
    ):
        config = prometheus_config(tmp_path, [ok.instance, bad.instance], manager)
        with prometheus(config, tmp_path) as prom:
            wait_until(lambda: len(query(prom, 'up{job="poolscope"} == 1')) == 2, timeout=30)
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(load, (ok.url, bad.url)))
            time.sleep(3)  # a few scrapes after the load
            _assert_panels_have_data(prom, ok.instance, has_host_tier=False)
            _assert_panels_have_data(prom, bad.instance, has_host_tier=True)
            _assert_instances_kept_apart(prom, {ok.instance, bad.instance})
            _assert_partition_is_per_instance(prom, ok.instance, bad.instance)
            _assert_bottleneck_is_one_pool_now(prom, {ok.instance, bad.instance})
            _assert_rules_evaluate(prom)
            wait_until(lambda: len(double_frees(prom)) >= len(FAULT_POOLS), timeout=30)
            fired = firing(prom)
            assert sink.wait_for(lambda got: len(got) >= len(FAULT_POOLS), timeout_s=30)
    leaks = {(a["labels"]["alertname"], a["labels"]["instance"], a["labels"]["pool"])
             for a in fired if "pool" in a["labels"]}
    assert leaks == {("PoolscopeDoubleFree", bad.instance, pool) for pool in FAULT_POOLS}
    assert not [a for a in fired if a["labels"].get("instance") == ok.instance]
    delivered = {(a.receiver, a.labels["alertname"], a.labels["instance"], a.labels["pool"])
                 for a in sink.received}
    assert delivered == {("critical", "PoolscopeDoubleFree", bad.instance, pool)
                         for pool in FAULT_POOLS}


def double_frees(prom: str) -> list[dict]:
    return [a for a in firing(prom) if a["labels"]["alertname"] == "PoolscopeDoubleFree"]


def _has_data(prom: str, spec: PanelSpec, instance: str, at: float | None = None) -> bool:
    for q in spec.queries:
        values = [float(r["value"][1]) for r in query(prom, panel_expr(q.expr, instance), at)]
        if not any(math.isfinite(v) for v in values):
            return False
    return True


def _assert_panels_have_data(
    prom: str, instance: str, *, has_host_tier: bool, at: float | None = None
) -> None:
    """Every panel has data for the instance (now, or at the Unix time `at`), except the
    host-tier row's: those show nothing (their no-data text) without the tier, and data with
    it."""
    host_titles = {spec.title for spec in host_tier()}
    for spec in panel_specs():
        if spec.title in host_titles and not has_host_tier:
            assert not any(query(prom, panel_expr(q.expr, instance), at) for q in spec.queries)
        else:
            assert _has_data(prom, spec, instance, at), spec.title


def _assert_instances_kept_apart(prom: str, instances: set[str]) -> None:
    """With All selected, each query whose legend names the instance returns every runtime's
    series under its own instance label (the host-tier row's: the runtime with the tier)."""
    host_titles = {spec.title for spec in host_tier()}
    for spec in panel_specs():
        for q in spec.queries:
            if "{{instance}}" not in q.legend:
                continue
            seen = {r["metric"].get("instance") for r in query(prom, panel_expr(q.expr))}
            assert seen <= instances and len(seen) == (
                1 if spec.title in host_titles else len(instances)), (spec.title, q.expr, seen)


def _partition(prom: str, pool: str) -> dict[str, tuple[float, float]]:
    """Per instance, with All selected: (sum of the stacked states, capacity) of a pool."""
    states, capacity = partition_panel(pool).queries
    out: dict[str, list[float]] = {}
    for r in query(prom, panel_expr(states.expr)):
        out.setdefault(r["metric"]["instance"], [0.0, 0.0])[0] += float(r["value"][1])
    for r in query(prom, panel_expr(capacity.expr)):
        out[r["metric"]["instance"]][1] = float(r["value"][1])
    return {instance: (stacked, cap) for instance, (stacked, cap) in out.items()}


def _assert_partition_is_per_instance(prom: str, ok: str, bad: str) -> None:
    """With All selected, the faulty runtime's partition is its own: its stack overshoots its
    capacity by exactly the slots its checker counts freed twice, while the healthy runtime's
    stacks meet its capacity."""
    for pool in (*DEVICE_POOLS, HOST_POOL):
        parts = _partition(prom, pool)
        assert set(parts) == ({bad} if pool == HOST_POOL else {ok, bad}), (pool, parts)
        leaked = query(prom, selector(catalog.POOL_LEAKED_SLOTS.prometheus_name,
                                      {"instance": bad, "pool": pool}))
        stacked, capacity = parts[bad]
        assert capacity - stacked == float(leaked[0]["value"][1]), (pool, parts, leaked)
        if pool in FAULT_POOLS:
            assert stacked > capacity, (pool, parts)
        if ok in parts:
            assert parts[ok][0] == parts[ok][1], (pool, parts)


def _assert_bottleneck_is_one_pool_now(prom: str, instances: set[str]) -> None:
    """The bottleneck stat's instant query names exactly one pool per runtime, the one with
    that runtime's highest usage now."""
    (q,) = bottleneck_pool().queries
    assert q.is_instant
    result = query(prom, panel_expr(q.expr))
    assert sorted(r["metric"]["instance"] for r in result) == sorted(instances)
    for r in result:
        instance = {"instance": r["metric"]["instance"]}
        usage = query(prom, selector(catalog.POOL_USAGE.prometheus_name, instance))
        assert float(r["value"][1]) == max(float(u["value"][1]) for u in usage)


def _assert_rules_evaluate(prom: str) -> None:
    for rule in alert_rules():
        query(prom, rule.expr)  # asserts status success
    groups = httpx.get(f"{prom}/api/v1/rules", timeout=10).json()["data"]["groups"]
    loaded = {r["name"]: r for g in groups for r in g["rules"]}
    assert set(loaded) == {r.name for r in alert_rules()}
    assert all(r["health"] == "ok" for r in loaded.values()), loaded
