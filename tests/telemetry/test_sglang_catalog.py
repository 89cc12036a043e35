"""telemetry.sglang_catalog: the vendored TSV of SGLang's metrics, loaded into names a dashboard
can only get right: exposed series for a prefix, loud failures otherwise."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from telemetry import sglang_catalog as sg
from telemetry.sglang_catalog import SGLangKind, SGLangMetric

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ROOT / "telemetry" / sg.TSV_NAME
REFERENCE = ROOT.parent / "shared" / "reference" / sg.TSV_NAME  # the workplace's, where present


def test_vendored_tsv_matches_the_reference() -> None:
    """Where ../shared/reference exists, the vendored TSV equals it byte for byte."""
    if not REFERENCE.is_file():
        pytest.skip(f"no {REFERENCE} on this machine (a clean clone elsewhere)")
    assert VENDORED.read_bytes() == REFERENCE.read_bytes()


def test_pyproject_ships_the_tsv_as_package_data() -> None:
    """An installed poolscope has the TSV next to the loader (setuptools package-data)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert sg.TSV_NAME in config["package-data"]["telemetry"]


def test_every_row_loads_with_the_exposure_its_type_implies() -> None:
    """All rows load, without prefix; counters are named and exposed `..._total`, histograms
    expose `_bucket`, `_sum` and `_count`, every other type its bare name."""
    lines = [line for line in VENDORED.read_text().splitlines() if line and line[0] != "#"]
    assert len(sg.METRICS) == len(lines) - 1
    for metric in sg.METRICS.values():
        assert not metric.name.startswith(("sglang:", "sglang_")), metric.name
        if metric.kind is SGLangKind.HISTOGRAM:
            assert metric.suffixes == sg.HISTOGRAM_SUFFIXES, metric.name
        else:
            assert metric.suffixes == ("",), metric.name
        if metric.kind is SGLangKind.COUNTER:
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
)  # fmt: skip
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
    """Rows without the `sglang:` prefix, repeated rows and unknown types are errors."""
    head = "# comment\nname\ttype\texposed_series\n"
    with pytest.raises(ValueError, match="prefix"):
        sg.parse(head + "token_usage\tgauge\ttoken_usage\n")
    with pytest.raises(ValueError, match="twice"):
        sg.parse(head + "sglang:a\tgauge\tsglang:a\n" * 2)
    with pytest.raises(ValueError):
        sg.parse(head + "sglang:a\tcounterish\tsglang:a\n")
    with pytest.raises(ValueError, match="extend"):
        sg.parse(head + "sglang:a_total\tcounter\tsglang:b_total\n")


def test_pool_tables_cover_the_hybrid_pools() -> None:
    """full, swa and mamba each have a usage gauge and an available/evictable/used partition;
    the KV pools a reported capacity."""
    assert list(sg.POOL_USAGE) == list(sg.POOL_PARTITION) == ["full", "swa", "mamba"]
    assert set(sg.POOL_CAPACITY) == {"full", "swa"}
    for available, evictable, used in sg.POOL_PARTITION.values():
        assert (available.name, evictable.name, used.name) == tuple(
            available.name.replace("available", state) for state in sg.PARTITION_STATES
        )
