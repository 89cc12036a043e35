"""telemetry.sglang.catalog: poolscope's TSV of SGLang's metrics across releases, loaded into names
a dashboard can only get right: exposed series for a prefix, the releases that export each, loud
failures otherwise."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from telemetry.sglang import catalog as sg
from telemetry.sglang.catalog import SGLangMetric, SGLangType

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ROOT / "telemetry" / "sglang" / sg.TSV_NAME
# The workplace's 2026-08 snapshot of upstream main, where present (worktrees sit one deeper).
REFERENCES = [up / "shared" / "reference" / sg.TSV_NAME for up in ROOT.parents[:2]]
SNAPSHOT = "main-2026-08"


def test_catalog_holds_the_reference_snapshot_as_its_newest_source() -> None:
    """Where ../shared/reference exists, each of its rows is in the catalog with the same type
    and series and is registered on main-2026-08; the catalog's other names are older ones
    that main no longer registers."""
    reference = next((path for path in REFERENCES if path.is_file()), None)
    if reference is None:
        pytest.skip("no shared/reference/sglang_metrics.tsv on this machine (a clean clone)")
    text = reference.read_text()
    snapshot = sg.parse(f"{sg.RELEASES_LINE}{SNAPSHOT}\n" + _with_era_columns(text))
    for name, row in snapshot.items():
        ours = sg.METRICS[name]
        assert (ours.metric_type, ours.exposed) == (row.metric_type, row.exposed), name
        assert ours.is_in(SNAPSHOT), name
    for name in set(sg.METRICS) - set(snapshot):
        assert not sg.METRICS[name].is_in(SNAPSHOT), name


def _with_era_columns(text: str) -> str:
    """The reference's 3-column rows, each marked as introduced on the snapshot."""
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    head = "name\ttype\texposed_series\tintroduced\tremoved\tnote"
    return "\n".join([head] + [f"{line}\t{SNAPSHOT}\t\t" for line in lines[1:]])


def test_releases_are_ordered_and_each_name_has_its_era() -> None:
    """The sources run from 0.3.6 (the first release with Prometheus metrics) to the 2026-08
    snapshot; names appear and go where SGLang's history says."""
    assert sg.RELEASES[0] == "0.3.6" and sg.RELEASES[-1] == SNAPSHOT
    assert sg.NUM_USED_TOKENS.is_in("0.3.6") and sg.NUM_USED_TOKENS.is_in(SNAPSHOT)
    assert not sg.MAX_TOTAL_TOKENS.is_in("0.5.5") and sg.MAX_TOTAL_TOKENS.is_in("0.5.6")
    assert sg.RETRACTED_SO_FAR.is_in("0.5.2") and not sg.RETRACTED_SO_FAR.is_in("0.5.3")
    assert sg.KV_USED.introduced == SNAPSHOT and not sg.KV_USED.is_in("0.5.10rc0")
    assert sg.KV_USED.since == "SGLang main of 2026-08"


def test_pyproject_ships_the_tsv_as_package_data() -> None:
    """An installed poolscope has the TSV next to the loader (setuptools package-data)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert sg.TSV_NAME in config["package-data"]["telemetry.sglang"]


def test_every_row_loads_with_the_exposure_its_type_implies() -> None:
    """All rows load, without prefix; counters are named and exposed `..._total`, histograms
    expose `_bucket`, `_sum` and `_count`, every other type its bare name."""
    lines = [line for line in VENDORED.read_text().splitlines() if line and line[0] != "#"]
    assert len(sg.METRICS) == len(lines) - 1
    for metric in sg.METRICS.values():
        assert not metric.name.startswith(("sglang:", "sglang_")), metric.name
        if metric.metric_type is SGLangType.HISTOGRAM:
            assert metric.suffixes == sg.HISTOGRAM_SUFFIXES, metric.name
        else:
            assert metric.suffixes == ("",), metric.name
        if metric.metric_type is SGLangType.COUNTER:
            assert metric.name.endswith("_total"), metric.name


def test_series_names_follow_the_prefix() -> None:
    """A series is `<prefix><name><suffix>` for both prefixes SGLang deployments use."""
    assert sg.TOKEN_USAGE.series() == "sglang:token_usage"
    assert sg.TOKEN_USAGE.series("sglang_") == "sglang_token_usage"
    assert sg.RETRACTED_REQUESTS.series() == "sglang:num_retracted_requests_total"
    assert sg.TTFT.series("sglang_", "_bucket") == "sglang_time_to_first_token_seconds_bucket"
    assert "sglang_e2e_request_latency_seconds_count" in sg.exposed_series("sglang_")
    assert sg.exposed_series()["sglang:token_usage"] is sg.TOKEN_USAGE


@pytest.mark.parametrize(
    ("metric", "prefix", "suffix"),
    [(sg.TTFT, "sglang:", ""), (sg.TOKEN_USAGE, "sglang:", "_total"),
     (sg.RETRACTED_REQUESTS, "sglang:", "_total"), (sg.TOKEN_USAGE, "vllm:", "")],
)
def test_series_sglang_does_not_expose_raise(
    metric: SGLangMetric, prefix: str, suffix: str
) -> None:
    """A bare histogram, `_total` on a gauge or twice on a counter, or an unknown prefix raise."""
    with pytest.raises(ValueError):
        metric.series(prefix, suffix)


def test_unknown_metric_fails_loudly() -> None:
    """Looking up a name the TSV lacks raises a KeyError naming the TSV."""
    with pytest.raises(KeyError, match="sglang_metrics.tsv"):
        sg.metric("token_usage_total")


def test_parse_rejects_a_malformed_tsv() -> None:
    """Rows without the `sglang:` prefix, repeated rows, unknown types, unknown releases, a
    removal before the introduction and a missing releases line are errors."""
    head = "# releases: 0.1 0.2\nname\ttype\texposed_series\tintroduced\tremoved\tnote\n"
    with pytest.raises(ValueError, match="prefix"):
        sg.parse(head + "token_usage\tgauge\ttoken_usage\t0.1\t\t\n")
    with pytest.raises(ValueError, match="twice"):
        sg.parse(head + "sglang:a\tgauge\tsglang:a\t0.1\t\t\n" * 2)
    with pytest.raises(ValueError):
        sg.parse(head + "sglang:a\tcounterish\tsglang:a\t0.1\t\t\n")
    with pytest.raises(ValueError, match="extend"):
        sg.parse(head + "sglang:a_total\tcounter\tsglang:b_total\t0.1\t\t\n")
    with pytest.raises(ValueError, match="not in"):
        sg.parse(head + "sglang:a\tgauge\tsglang:a\t0.3\t\t\n")
    with pytest.raises(ValueError, match="before"):
        sg.parse(head + "sglang:a\tgauge\tsglang:a\t0.2\t0.1\t\n")
    with pytest.raises(ValueError, match="releases"):
        sg.parse(head.split("\n", 1)[1] + "sglang:a\tgauge\tsglang:a\t0.1\t\t\n")


def test_pool_tables_cover_the_hybrid_pools() -> None:
    """full, swa and mamba each have a usage gauge and an available/evictable/used partition;
    the KV pools a reported capacity."""
    assert list(sg.POOL_USAGE) == list(sg.POOL_PARTITION) == ["full", "swa", "mamba"]
    assert set(sg.POOL_CAPACITY) == {"full", "swa"}
    for available, evictable, used in sg.POOL_PARTITION.values():
        assert (available.name, evictable.name, used.name) == tuple(
            available.name.replace("available", state) for state in sg.PARTITION_STATES
        )
