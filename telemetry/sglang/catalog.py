"""SGLang's own metrics, read from `sglang_metrics.tsv` (poolscope's catalog of SGLang's names
across releases, 0.3.6 to upstream main of 2026-08, each with the release that introduced it and
the one that removed it): the single place the SGLang dashboard and rules take metric names from.

    from telemetry.sglang import catalog as sg
    sg.TOKEN_USAGE.series()                      # 'sglang:token_usage'
    sg.TTFT.series("sglang_", "_bucket")         # 'sglang_time_to_first_token_seconds_bucket'
    sg.metric("token_usage_total")               # KeyError: SGLang exports no such metric
    sg.KV_USED.introduced, sg.NUM_USED_TOKENS.is_in("0.4.0")   # 'main-2026-08', True

SGLang's code registers every name under `sglang:`; some deployments (and SGLang's own example
dashboard) scrape them as `sglang_`, so a series name is always built for a prefix. The TSV's third
column is what a scrape shows: counters as `..._total`, histograms as `_bucket`/`_sum`/`_count`,
everything else under its own name. `series()` returns only names from that column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from enum import Enum
from importlib import resources

TSV_NAME = "sglang_metrics.tsv"
TSV_PREFIX = "sglang:"  # the prefix the TSV spells
DEFAULT_PREFIX = "sglang:"
PREFIXES = ("sglang:", "sglang_")
MODEL_LABEL = "model_name"  # SGLang's model label (poolscope's is `model`)
# From the TSV's header: on every series, plus dp_rank and priority where those are enabled.
LABELS = ("model_name", "engine_type", "tp_rank", "pp_rank", "moe_ep_rank", "dp_rank", "priority")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
RELEASES_LINE = "# releases: "  # the TSV's header line listing the sources, oldest first


class SGLangType(Enum):
    """The prometheus_client type SGLang registers a metric with."""

    GAUGE = "gauge"
    COUNTER = "counter"
    HISTOGRAM = "histogram"
    GAUGE_HISTOGRAM = "gaugehistogram"
    SUMMARY = "summary"


@dataclass(frozen=True)
class SGLangMetric:
    """One SGLang metric: its name without prefix (counters' names end in `_total`, as SGLang
    registers them), its type, and the series a scrape exposes for it, without prefix."""

    name: str
    metric_type: SGLangType
    exposed: tuple[str, ...]
    introduced: str = ""  # the first source (see RELEASES) registering it
    removed: str = ""  # the first source no longer registering it; "" while still registered

    def __post_init__(self) -> None:
        if not self.exposed or any(not s.startswith(self.name) for s in self.exposed):
            raise ValueError(f"{self.name}: exposed series {self.exposed} must extend its name")

    def is_in(self, release: str) -> bool:
        """Whether `release` (one of RELEASES) registers this metric."""
        at = RELEASES.index(release)
        if at < RELEASES.index(self.introduced):
            return False
        return not self.removed or at < RELEASES.index(self.removed)

    @property
    def since(self) -> str:
        """'SGLang 0.5.6' or 'SGLang main of 2026-08' (not in a release up to 0.5.10rc0)."""
        if self.introduced.startswith("main-"):
            return f"SGLang main of {self.introduced.removeprefix('main-')}"
        return f"SGLang {self.introduced}"

    @property
    def suffixes(self) -> tuple[str, ...]:
        """What follows the name in each exposed series ('' for the name itself)."""
        return tuple(s.removeprefix(self.name) for s in self.exposed)

    def series(self, prefix: str = DEFAULT_PREFIX, suffix: str = "") -> str:
        """The exposed series `<prefix><name><suffix>`; raises ValueError for a series SGLang
        does not expose (a histogram without `_bucket`/`_sum`/`_count`, a suffix on a gauge)."""
        _check_prefix(prefix)
        if suffix not in self.suffixes:
            raise ValueError(
                f"SGLang's {self.metric_type.value} {self.name} exposes {list(self.exposed)}, "
                f"not {self.name}{suffix}"
            )
        return f"{prefix}{self.name}{suffix}"


def _check_prefix(prefix: str) -> None:
    if prefix not in PREFIXES:
        raise ValueError(f"SGLang metric prefix must be one of {PREFIXES}, not {prefix!r}")


def _strip(name: str) -> str:
    if not name.startswith(TSV_PREFIX):
        raise ValueError(f"{TSV_NAME}: {name!r} lacks the {TSV_PREFIX!r} prefix")
    return name.removeprefix(TSV_PREFIX)


def releases(text: str) -> tuple[str, ...]:
    """The sources the TSV was read from, oldest first (its `# releases:` header line)."""
    for line in text.splitlines():
        if line.startswith(RELEASES_LINE):
            return tuple(line.removeprefix(RELEASES_LINE).split())
    raise ValueError(f"{TSV_NAME}: no {RELEASES_LINE!r} header line")


def _check_era(metric: SGLangMetric, known: tuple[str, ...]) -> None:
    for release in (metric.introduced, metric.removed):
        if release and release not in known:
            raise ValueError(f"{TSV_NAME}: {metric.name}: {release!r} is not in {known}")
    if metric.removed and known.index(metric.removed) <= known.index(metric.introduced):
        raise ValueError(f"{TSV_NAME}: {metric.name} is removed before it is introduced")


def parse(text: str) -> dict[str, SGLangMetric]:
    """The TSV's rows (after `#` comments and the `name type exposed_series introduced removed
    note` header), by name."""
    known = releases(text)
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    metrics: dict[str, SGLangMetric] = {}
    for row in csv.DictReader(lines, delimiter="\t"):
        name = _strip(row["name"])
        if name in metrics:
            raise ValueError(f"{TSV_NAME}: {name} is listed twice")
        exposed = tuple(_strip(s) for s in row["exposed_series"].split(","))
        metric = SGLangMetric(name, SGLangType(row["type"]), exposed, row["introduced"],
                              row["removed"])
        _check_era(metric, known)
        metrics[name] = metric
    return metrics


def _text() -> str:
    return resources.files(__package__).joinpath(TSV_NAME).read_text(encoding="utf-8")


RELEASES: tuple[str, ...] = releases(_text())
METRICS: dict[str, SGLangMetric] = parse(_text())


def metric(name: str) -> SGLangMetric:
    """The metric named `name` (no prefix); KeyError naming the TSV when SGLang has none."""
    try:
        return METRICS[name]
    except KeyError:
        where = f"telemetry/sglang/{TSV_NAME}"
        raise KeyError(f"SGLang exports no metric {name!r} (see {where})") from None


def exposed_series(prefix: str = DEFAULT_PREFIX) -> dict[str, SGLangMetric]:
    """Every series name a scrape of SGLang can show under `prefix` → its metric."""
    _check_prefix(prefix)
    return {prefix + s: m for m in METRICS.values() for s in m.exposed}


# The metrics poolscope's SGLang dashboard and rules use; a typo fails at import.
TOKEN_USAGE = metric("token_usage")  # max over full, swa and mamba: TOKEN_USAGE_FIXME applies
FULL_TOKEN_USAGE = metric("full_token_usage")
SWA_TOKEN_USAGE = metric("swa_token_usage")
MAMBA_USAGE = metric("mamba_usage")
KV_AVAILABLE = metric("kv_available_tokens")  # the full-attention pool
KV_EVICTABLE = metric("kv_evictable_tokens")
KV_USED = metric("kv_used_tokens")
SWA_AVAILABLE = metric("swa_available_tokens")
SWA_EVICTABLE = metric("swa_evictable_tokens")
SWA_USED = metric("swa_used_tokens")
MAMBA_AVAILABLE = metric("mamba_available_tokens")
MAMBA_EVICTABLE = metric("mamba_evictable_tokens")
MAMBA_USED = metric("mamba_used_tokens")
MAX_TOTAL_TOKENS = metric("max_total_num_tokens")  # full pool capacity
MAX_TOTAL_TOKENS_SWA = metric("max_total_num_tokens_swa")
HICACHE_HOST_USED = metric("hicache_host_used_tokens")
HICACHE_HOST_TOTAL = metric("hicache_host_total_tokens")
STREAMING_SESSIONS = metric("num_streaming_sessions")
SESSION_HELD_TOKENS = metric("streaming_session_held_tokens")
RUNNING_REQS = metric("num_running_reqs")
QUEUE_REQS = metric("num_queue_reqs")
RETRACTED_REQUESTS = metric("num_retracted_requests_total")
# The older names the memory panels and alerts fall back to (see docs/sglang.md).
NUM_USED_TOKENS = metric("num_used_tokens")  # full pool (max of full and swa on SWA models)
RETRACTED_LAST_WINDOW = metric("num_retracted_reqs")  # gauge: retracted in the last stats window
RETRACTED_SO_FAR = metric("total_retracted_reqs")  # gauge counting up since start (0.4.10-0.5.2)
RETRACTIONS_PER_REQUEST = metric("num_retractions")  # histogram, observed as a request finishes
GEN_THROUGHPUT = metric("gen_throughput")
GENERATION_TOKENS = metric("generation_tokens_total")
PROMPT_TOKENS = metric("prompt_tokens_total")
CACHED_TOKENS = metric("cached_tokens_total")
CACHE_HIT_RATE = metric("cache_hit_rate")
TTFT = metric("time_to_first_token_seconds")
ITL = metric("inter_token_latency_seconds")
TIME_PER_OUTPUT_TOKEN = metric("time_per_output_token_seconds")  # ITL's name before 0.4.4
E2E_LATENCY = metric("e2e_request_latency_seconds")

# Per pool: the (available, evictable, used) partition SGLang reports, and its usage gauge.
POOL_PARTITION: dict[str, tuple[SGLangMetric, SGLangMetric, SGLangMetric]] = {
    "full": (KV_AVAILABLE, KV_EVICTABLE, KV_USED),
    "swa": (SWA_AVAILABLE, SWA_EVICTABLE, SWA_USED),
    "mamba": (MAMBA_AVAILABLE, MAMBA_EVICTABLE, MAMBA_USED),
}
POOL_USAGE: dict[str, SGLangMetric] = {
    "full": FULL_TOKEN_USAGE,
    "swa": SWA_TOKEN_USAGE,
    "mamba": MAMBA_USAGE,
}
# SGLang reports a capacity for the KV pools only; the mamba pool's is the sum of its partition.
POOL_CAPACITY: dict[str, SGLangMetric] = {"full": MAX_TOTAL_TOKENS, "swa": MAX_TOTAL_TOKENS_SWA}
PARTITION_STATES = ("available", "evictable", "used")
