"""The outcome of a load-generation run: a summary of its request records, as a table or JSON.

Latencies and token counts come from successful requests only; throughputs divide them by the
whole run's wall-clock duration (including the wait for the last requests in flight).
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from runtime.loadgen.record import RequestRecord
from runtime.loadgen.token_scale import TokenScale
from runtime.loadgen.workload import LoadgenConfig

PERCENTILES = (50, 90, 99)
MAX_ERRORS_SHOWN = 10


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) by linear interpolation between closest ranks.

    This is numpy's default method: rank `p / 100 * (n - 1)` of the sorted values, so one value
    is its own every percentile and p0 / p100 are the min / max. Raises ValueError on no values
    or p outside [0, 100].
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"percentile p must be in [0, 100], got {p}")
    ordered = sorted(values)
    rank = p / 100.0 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class LatencyStats:
    """p50 / p90 / p99 / mean of `count` latencies, in seconds; all None when count is 0."""

    count: int
    p50: float | None
    p90: float | None
    p99: float | None
    mean: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> LatencyStats:
        if not values:
            return cls(0, None, None, None, None)
        p50, p90, p99 = (percentile(values, p) for p in PERCENTILES)
        return cls(len(values), p50, p90, p99, math.fsum(values) / len(values))

    def to_ms_dict(self) -> dict[str, float | int | None]:
        """The JSON form: count, and p50 / p90 / p99 / mean in milliseconds."""
        cells = {"p50": self.p50, "p90": self.p90, "p99": self.p99, "mean": self.mean}
        return {"count": self.count} | {k: _ms(v) for k, v in cells.items()}

    def to_dict(self) -> dict[str, float | int | None]:
        """The JSON form of plain values (token counts): count, p50 / p90 / p99 / mean."""
        return {"count": self.count, "p50": self.p50, "p90": self.p90, "p99": self.p99,
                "mean": self.mean}


@dataclass(frozen=True)
class Summary:
    """The result of one run; `errors` holds (message, count) pairs, most frequent first.

    `prompt_tokens` are the real prompt lengths the server counted for the successful requests
    that are not session turns (a turn's count includes its session's history); `scale` is how
    lengths were turned into words; `stop_reason` says why the run stopped early, if it did.
    """

    config: LoadgenConfig
    num_requests_ok: int
    num_requests_failed: int
    duration_s: float
    num_prompt_tokens: int
    num_completion_tokens: int
    ttft: LatencyStats
    itl: LatencyStats
    e2e: LatencyStats
    num_sessions: int
    num_sessions_completed: int
    errors: tuple[tuple[str, int], ...]
    prompt_tokens: LatencyStats = LatencyStats(0, None, None, None, None)
    scale: TokenScale = TokenScale()
    stop_reason: str | None = None

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise ValueError(f"summary duration must be > 0, got {self.duration_s}")

    @property
    def failure_rate(self) -> float:
        """Failed requests over all requests sent (0 when none was sent)."""
        num = self.num_requests_ok + self.num_requests_failed
        return self.num_requests_failed / num if num else 0.0

    @property
    def request_throughput(self) -> float:
        """Successful requests per second."""
        return self.num_requests_ok / self.duration_s

    @property
    def output_token_throughput(self) -> float:
        """Completion tokens of successful requests per second."""
        return self.num_completion_tokens / self.duration_s

    @property
    def total_token_throughput(self) -> float:
        """Prompt plus completion tokens of successful requests per second."""
        return (self.num_prompt_tokens + self.num_completion_tokens) / self.duration_s

    def to_dict(self) -> dict[str, object]:
        """The JSON report: the config (api key redacted), counts, throughputs (per second),
        `ttft_ms` / `itl_ms` / `e2e_ms` stats, sessions, and `errors` as message -> count."""
        return {
            "config": self.config.to_dict(),
            "num_requests_ok": self.num_requests_ok,
            "num_requests_failed": self.num_requests_failed,
            "duration_s": self.duration_s,
            "request_throughput": self.request_throughput,
            "output_token_throughput": self.output_token_throughput,
            "total_token_throughput": self.total_token_throughput,
            "num_prompt_tokens": self.num_prompt_tokens,
            "num_completion_tokens": self.num_completion_tokens,
            "ttft_ms": self.ttft.to_ms_dict(),
            "itl_ms": self.itl.to_ms_dict(),
            "e2e_ms": self.e2e.to_ms_dict(),
            "num_sessions": self.num_sessions,
            "num_sessions_completed": self.num_sessions_completed,
            "errors": dict(self.errors),
            "failure_rate": self.failure_rate,
            "prompt_tokens": self.prompt_tokens.to_dict(),
            "token_scale": self.scale.to_dict(),
            "stop_reason": self.stop_reason,
        }

    def write_json(self, path: Path) -> None:
        """Writes `to_dict()` to `path` as indented JSON, creating parent directories."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    def print_table(self, file: TextIO | None = None) -> None:
        """Prints the summary as an aligned table to `file` (stdout by default)."""
        out = sys.stdout if file is None else file
        rows = [
            ("requests ok / failed", f"{self.num_requests_ok} / {self.num_requests_failed}"),
            ("duration (s)", f"{self.duration_s:.2f}"),
            ("request throughput (req/s)", f"{self.request_throughput:.2f}"),
            ("output token throughput (tok/s)", f"{self.output_token_throughput:.1f}"),
            ("total token throughput (tok/s)", f"{self.total_token_throughput:.1f}"),
            ("sessions run (completed)", f"{self.num_sessions} ({self.num_sessions_completed})"),
        ]
        for name, value in rows:
            print(f"{name:<34}{value:>14}", file=out)
        print(
            f"{'latency (ms)':<16}" + "".join(f"{h:>10}" for h in ("p50", "p90", "p99", "mean")),
            file=out,
        )
        for name, stats in (("TTFT", self.ttft), ("ITL", self.itl), ("E2E", self.e2e)):
            cells = (stats.p50, stats.p90, stats.p99, stats.mean)
            print(f"{name:<16}" + "".join(_ms_cell(x) for x in cells), file=out)
        self._print_prompt_tokens(out)
        for message, count in self.errors:
            print(f"error x{count}: {message}", file=out)
        if self.stop_reason is not None:
            print(f"run {self.stop_reason}", file=out)

    def _print_prompt_tokens(self, out: TextIO) -> None:
        stats = self.prompt_tokens
        cells = (stats.p50, stats.p90, stats.p99, stats.mean)
        print(f"{'prompt tokens':<16}" + "".join(_count_cell(x) for x in cells), file=out)
        target = self.config.prompt_len.mean
        if self.scale.is_measured:
            how = (f"{self.scale.tokens_per_word:.2f} tokens per word, measured through the "
                   "server's usage counts")
        else:
            how = "the server sent no token counts, so one word was taken as one token"
        print(f"  (asked: mean {target} + shared prefix when drawn; {how})", file=out)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


def _count_cell(value: float | None) -> str:
    return f"{'-':>10}" if value is None else f"{value:>10.1f}"


def _ms_cell(seconds: float | None) -> str:
    return f"{'-':>10}" if seconds is None else f"{seconds * 1000.0:>10.2f}"


def summarize(
    config: LoadgenConfig,
    records: Iterable[RequestRecord],
    duration_s: float,
    num_sessions: int = 0,
    num_sessions_completed: int = 0,
    *,
    scale: TokenScale | None = None,
    stop_reason: str | None = None,
) -> Summary:
    """Folds request records into a Summary; a missing `usage` counts as 0 tokens."""
    done = list(records)
    ok = [r for r in done if r.is_ok]
    errors = Counter(r.error for r in done if r.error is not None)
    return Summary(
        config=config,
        num_requests_ok=len(ok),
        num_requests_failed=len(done) - len(ok),
        duration_s=duration_s,
        num_prompt_tokens=sum(r.prompt_tokens or 0 for r in ok),
        num_completion_tokens=sum(r.completion_tokens or 0 for r in ok),
        ttft=LatencyStats.of([r.ttft_s for r in ok if r.ttft_s is not None]),
        itl=LatencyStats.of([gap for r in ok for gap in r.itl_s]),
        e2e=LatencyStats.of([r.e2e_s for r in ok]),
        num_sessions=num_sessions,
        num_sessions_completed=num_sessions_completed,
        errors=tuple(errors.most_common(MAX_ERRORS_SHOWN)),
        prompt_tokens=LatencyStats.of(
            [r.prompt_tokens for r in ok if r.prompt_tokens is not None and not r.is_session]
        ),
        scale=scale or TokenScale(),
        stop_reason=stop_reason,
    )
