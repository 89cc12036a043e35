"""The SGLang dashboard and alerts on every SGLang era from 0.3.6 (2024-11) to main of 2026-08:
a real Prometheus scrapes one stand-in per era (exactly the names, types and labels that era's
metrics collector registers, `sglang_eras/`), every memory panel returns data wherever the era
exports any name it reads, and each alert fires on a firing case built from the era's series."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from dashboards import sglang_alerts
from dashboards.build import GENERATED
from dashboards.panel_spec import PanelSpec
from dashboards.sglang_serving_memory import panel_specs, rows
from telemetry.sglang import catalog as sg
from tests.dashboards.processes import prometheus, serve_metrics
from tests.dashboards.promql_names import metric_names
from tests.dashboards.promtool_cases import case, fired, run_rule_tests, series
from tests.dashboards.sglang_eras import Era, eras
from tests.support import query

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("promtool") is None,
    reason="needs Debian's prometheus and promtool",
)
P = "sglang:"
RELEASES = [e.release for e in eras()]
MEMORY_ROWS = ("Overview", "Pools")
RETRACTIONS = "Retractions per second"
# Panels that read only names some eras lack (the rest have a fallback back to 0.3.6).
MAY_BE_EMPTY = ("Partition: swa", "Partition: mamba", "HiCache", RETRACTIONS)


def memory_panels() -> list[PanelSpec]:
    specs = [p for row in rows() if row.title in MEMORY_ROWS for p in row.panels]
    return specs + [p for p in panel_specs() if p.title == RETRACTIONS]


def exports_any(spec: PanelSpec, release: str) -> bool:
    """Whether the catalog says `release` registers any metric the panel reads."""
    series = sg.exposed_series(P)
    names = {n for q in spec.queries for n in metric_names(q.expr)}
    return any(series[n].is_in(release) for n in names)


def for_target(expr: str, target: str, dp_rank: str = ".*") -> str:
    """The panel's expression as Grafana sends it with the instance `target` chosen."""
    for variable, value in (("$__rate_interval", "20s"), ("$instance", target),
                            (f"${sg.MODEL_LABEL}", ".*"), ("$dp_rank", dp_rank),
                            ("$tp_rank", ".*"), ("$pp_rank", ".*")):
        expr = expr.replace(variable, value)
    return expr


def _wait_for_scrapes(url: str, targets: int, timeout: float = 60.0) -> None:
    """Until every target has been scraped at least five times (rates need two samples)."""
    deadline = time.monotonic() + timeout
    while query(url, "count(count_over_time(up[1m]) >= 5) or vector(0)")[0]["value"][1] != str(
        targets
    ):
        assert time.monotonic() < deadline, "Prometheus did not scrape every stand-in"
        time.sleep(0.5)


ALL_SCHEDULERS = "0.5.9 --enable-metrics-for-all-schedulers"


def every_tp_rank_reports(text: str) -> str:
    """The exposition as with --enable-metrics-for-all-schedulers and TP 2: each scheduler
    series of tp_rank 0 also comes from tp_rank 1, with the same value (the same pool)."""
    copies = [line.replace('tp_rank="0"', 'tp_rank="1"') for line in text.splitlines()
              if 'tp_rank="0"' in line and not line.startswith("#")]
    return text + "\n".join(copies) + "\n"


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A real Prometheus scraping every era's stand-in each second (and one with every TP rank
    reporting): its URL, release → target."""
    tmp = tmp_path_factory.mktemp("sglang-eras")
    texts = [e.text for e in eras()]
    texts.append(every_tp_rank_reports(next(e.text for e in eras() if e.release == "0.5.9")))
    with serve_metrics(texts) as targets:
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "scrape_configs": [{"job_name": "sglang",
                                      "static_configs": [{"targets": targets}]}]}
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        with prometheus(tmp / "prometheus.yml", tmp) as url:
            _wait_for_scrapes(url, len(targets))
            yield url, dict(zip([*RELEASES, ALL_SCHEDULERS], targets, strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("release", RELEASES)
def test_every_memory_panel_has_data_where_the_era_exports_its_names(
    release: str, scraped: tuple[str, dict[str, str]]
) -> None:
    """On each era's stand-in, a memory panel returns data exactly when the era exports a name
    it reads, and only the swa/mamba partitions, HiCache and retractions can lack one."""
    url, targets = scraped
    for spec in memory_panels():
        has_data = any(query(url, for_target(q.expr, targets[release])) for q in spec.queries)
        assert has_data == exports_any(spec, release), (release, spec.title)
        assert has_data or spec.title.startswith(MAY_BE_EMPTY), (release, spec.title)


def _value(url: str, target: str, title: str, legend: str, dp_rank: str = ".*") -> list:
    spec = next(p for p in memory_panels() if p.title.startswith(title))
    expr = next(q.expr for q in spec.queries if q.legend == legend)
    return [(r["metric"], float(r["value"][1])) for r in query(url, for_target(expr, target,
                                                                               dp_rank))]


@pytest.mark.slow
def test_older_names_stand_in_and_ranks_aggregate(scraped: tuple[str, dict[str, str]]) -> None:
    """Counts are summed over DP ranks and usage is their max; older releases' used tokens,
    capacity (reported or estimated as used / token_usage) and full-pool usage (token_usage,
    labelled so) fill the panels; a chosen dp_rank narrows to it; TP ranks that all report the
    same pool count once. Stand-in values: 5040 used
    and usage 0.42 per rank, max_total_num_tokens 12000, two DP ranks from 0.4.10 on."""
    url, t = scraped
    used, capacity = ("Partition: full", "used"), ("Partition: full", "capacity")
    assert _value(url, t["0.3.6"], *used) == [({}, 5040.0)]
    assert _value(url, t["0.3.6"], *capacity) == [({}, 12000.0)]  # estimated
    assert _value(url, t["0.4.10"], *used) == [({}, 10080.0)]
    assert _value(url, t["0.4.10"], *used, dp_rank="1") == [({}, 5040.0)]
    assert _value(url, t["0.4.10"], "Partition: full", "available + evictable") == [({}, 13920.0)]
    assert _value(url, t["0.5.6"], *capacity) == [({}, 24000.0)]  # reported
    assert _value(url, t["main-2026-08"], "Partition: full", "available") == [({}, 8000.0)]
    assert _value(url, t["main-2026-08"], "Partition: full", "available + evictable") == []
    full = ("Usage per pool", "{{instance}} full {{source}}")
    assert _value(url, t["0.5.9"], *full) == [({"instance": t["0.5.9"], "source": "token_usage"},
                                                0.42)]
    assert _value(url, t["0.5.10rc0"], *full) == [({"instance": t["0.5.10rc0"]}, 0.42)]
    # Two TP ranks reporting the same pools count once: the same figures as without them.
    for legend in ("used", "capacity", "available + evictable"):
        same = _value(url, t["0.5.9"], "Partition: full", legend)
        assert _value(url, t[ALL_SCHEDULERS], "Partition: full", legend) == same, legend


# ---- alerts: promtool firing (and quiet) cases per era, from the era's own series ----------

BASE = {"instance": "sg:30000", "job": "sglang"}
PER_POOL = {"full": "full_token_usage", "swa": "swa_token_usage", "mamba": "mamba_usage"}
# Retraction figures, best first, with a series that makes each one a storm.
RETRACTION_FIGURES = (
    ("num_retracted_requests_total", "num_retracted_requests_total", "0+60x15"),
    ("num_retractions", "num_retractions_sum", "0+60x15"),
    ("total_retracted_reqs", "total_retracted_reqs", "0+60x15"),
    ("num_retracted_reqs", "num_retracted_reqs", "2x15"),
)


def _series(era: Era, name: str, values: str) -> list[dict[str, str]]:
    return [series(P + name, values, BASE, **labels) for labels in era.label_sets(P + name)]


def _fired(alert: str, era: Era, name: str, **extra: str) -> list[dict]:
    rule = next(r for r in sglang_alerts.alert_rules(P) if r.name == alert)
    return [fired(rule, **BASE, **labels, **extra) for labels in era.label_sets(P + name)]


def _has(era: Era, name: str) -> bool:
    return P + name in era.families


def near_full(era: Era) -> dict:
    usage = [n for n in (*PER_POOL.values(), "token_usage") if _has(era, n)]
    inputs = [s for n in usage for s in _series(era, n, "0.97x10")]
    expected = [a for pool, n in PER_POOL.items() if _has(era, n)
                for a in _fired("SGLangPoolNearFull", era, n, pool=pool)]
    if not _has(era, PER_POOL["full"]):
        expected += _fired("SGLangPoolNearFull", era, "token_usage", pool="token_usage")
    return case(inputs, "SGLangPoolNearFull", "6m", expected)


def stuck_at_idle(era: Era) -> dict:
    inputs = [*_series(era, "token_usage", "0.2x15"), *_series(era, "num_running_reqs", "0x15")]
    expected = _fired("SGLangUsageStuckAtIdle", era, "token_usage")
    return case(inputs, "SGLangUsageStuckAtIdle", "12m", expected)


def retraction_cases(era: Era) -> list[dict]:
    """A storm on the era's best retraction figure, and all its figures flat (quiet)."""
    present = [(s, v) for family, s, v in RETRACTION_FIGURES if _has(era, family)]
    (best, values), *_ = present
    rule = next(r for r in sglang_alerts.alert_rules(P) if r.name == "SGLangRetractionStorm")
    server = {k: v for k, v in {**BASE, **era.label_sets(P + best)[0]}.items()
              if k in sglang_alerts.SERVER}
    flat = [s for name, _ in present for s in _series(era, name, "0x15")]
    return [case(_series(era, best, values), rule.name, "12m", [fired(rule, **server)]),
            case(flat, rule.name, "12m", [])]


@pytest.mark.parametrize("release", RELEASES)
def test_every_alert_fires_on_each_era(release: str, tmp_path: Path) -> None:
    """`promtool test rules` on the committed rules: near-full (per pool, else on token_usage),
    usage stuck at idle and a retraction storm each fire on the era's own series; the storm
    stays quiet when the era's figures are flat. Eras before 0.4.10 export no retraction
    figure at all, so there the storm has nothing to fire on (asserted, not skipped)."""
    era = next(e for e in eras() if e.release == release)
    cases = [near_full(era), stuck_at_idle(era)]
    if any(_has(era, family) for family, _, _ in RETRACTION_FIGURES):
        cases += retraction_cases(era)
    else:
        assert not sg.RETRACTED_SO_FAR.is_in(release) and not sg.RETRACTED_LAST_WINDOW.is_in(
            release
        )
    done = run_rule_tests(GENERATED / sglang_alerts.RULES_FILE, cases, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
