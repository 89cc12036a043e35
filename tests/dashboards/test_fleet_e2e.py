"""The fleet view end to end without Docker: three real runtimes (one with a fault point that
frees KV pages twice) scraped by Debian's `prometheus` with the generated scrape job and rule
file. After load, every fleet panel query returns data with All selected, every table row names
the instance its data link opens, the faulty runtime ranks first on the leak panel, the
instance count says three, and the fleet rules evaluate."""

from __future__ import annotations

import math
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from dashboards import fleet_panels
from dashboards.alerts import fleet_rules
from dashboards.fleet_serving_memory import panel_specs
from dashboards.panel_spec import PanelSpec, Viz
from runtime.memory.checker import CheckMode
from tests.dashboards.processes import prometheus
from tests.dashboards.test_stack_e2e import FAULT, load, panel_expr, prometheus_config, runtime
from tests.support import free_port, query, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs Debian's prometheus"),
]
NUM_RUNTIMES = 3


def _values(prom: str, expr: str) -> list[tuple[dict, float]]:
    return [(r["metric"], float(r["value"][1])) for r in query(prom, panel_expr(expr))]


def test_fleet_panels_have_data_and_rank_the_faulty_instance_first(
    hybrid_dir: Path, tmp_path: Path
) -> None:
    """With three runtimes, one freeing KV pages twice (host tier on, so every pool has data
    somewhere), every fleet panel query returns finite data for All, the tables give one row
    per instance with its instance label for the link, and the leak table ranks the faulty
    runtime first."""
    faulty = {"faults": frozenset({FAULT}), "mem_check": CheckMode.BUSY, "host_tier": True}
    with runtime(hybrid_dir) as ok1, runtime(hybrid_dir) as ok2, \
            runtime(hybrid_dir, **faulty) as bad:
        runtimes = [ok1, ok2, bad]
        unused_alertmanager = f"http://127.0.0.1:{free_port()}"  # alerts are not under test
        config = prometheus_config(tmp_path, [r.instance for r in runtimes], unused_alertmanager)
        with prometheus(config, tmp_path) as prom:
            up = 'up{job="poolscope"} == 1'
            wait_until(lambda: len(query(prom, up)) == NUM_RUNTIMES, timeout=30)
            with ThreadPoolExecutor(NUM_RUNTIMES) as pool:
                list(pool.map(load, [r.url for r in runtimes]))
            time.sleep(3)  # a few scrapes after the load
            instances = {r.instance for r in runtimes}
            for spec in panel_specs():
                _assert_has_data(prom, spec)
                _assert_rows_name_their_instance(prom, spec, instances)
            _assert_fleet_counted(prom)
            _assert_faulty_ranks_first(prom, bad.instance)
            for rule in fleet_rules().rules():
                query(prom, rule.expr)  # asserts status success
            _assert_rules_healthy(prom)


def _assert_has_data(prom: str, spec: PanelSpec) -> None:
    for q in spec.queries:
        values = [v for _, v in _values(prom, q.expr)]
        assert any(math.isfinite(v) for v in values), (spec.title, q.expr)


def _assert_rows_name_their_instance(prom: str, spec: PanelSpec, instances: set[str]) -> None:
    """A table's rows carry `instance` (what `${__data.fields.instance}` reads), each one of
    the runtimes; the device pools' tables have a row for every runtime."""
    if spec.viz is not Viz.TABLE:
        return
    (q,) = spec.queries
    rows = {labels["instance"] for labels, _ in _values(prom, q.expr)}
    assert rows <= instances, (spec.title, rows)
    if "host pool" not in spec.title:
        assert rows == instances, (spec.title, rows)


def _assert_fleet_counted(prom: str) -> None:
    """Three instances up, and as many serving as generated tokens in the window (at most 3)."""
    up, serving = fleet_panels.overview()[0].queries
    assert _values(prom, up.expr)[0][1] == NUM_RUNTIMES
    assert 0 <= _values(prom, serving.expr)[0][1] <= NUM_RUNTIMES


def _assert_faulty_ranks_first(prom: str, bad: str) -> None:
    """The leak table's instant query (sorted, most first) starts with the faulty runtime,
    whose count is above 0, and the healthy ones count nothing."""
    (q,) = fleet_panels.leaks().queries
    ranked = _values(prom, q.expr)
    assert ranked[0][0]["instance"] == bad and ranked[0][1] > 0, ranked
    assert all(v == 0 for labels, v in ranked if labels["instance"] != bad), ranked


def _assert_rules_healthy(prom: str) -> None:
    groups = httpx.get(f"{prom}/api/v1/rules", timeout=10).json()["data"]["groups"]
    loaded = {r["name"]: r for g in groups for r in g["rules"]}
    for rule in fleet_rules().rules():
        assert loaded[rule.name]["health"] == "ok", loaded[rule.name]
