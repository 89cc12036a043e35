"""PromQL over SGLang's metrics that works on every release from 0.3.6 on: each figure is the
newest name's, falling back with `or` to what older releases export (the releases are in
`telemetry/sglang/sglang_metrics.tsv`; docs/sglang.md has the table).

Ranks: with data-parallel attention each `dp_rank` has its own pools, and with
`--enable-metrics-for-all-schedulers` every `tp_rank`/`pp_rank` of a DP group reports the same
pool. So a count is the max over the ranks of one DP group, summed over DP groups (`tokens`);
a usage is the max over all ranks (`usage`). The rank variables narrow both to one rank.

    fb = SGLangFallbacks(SGLangQueries("sglang:"))
    fb.full_used(("instance",))     # kv_used_tokens, else num_used_tokens, per instance
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.sglang_promql import SGLangQueries
from telemetry.sglang import catalog as sg
from telemetry.sglang.catalog import SGLangMetric

DP_GROUP = "dp_rank"
SOURCE = "source"  # the label naming an older figure a panel fell back to


def first_of(terms: list[str], by: tuple[str, ...]) -> str:
    """The first term that has a series for a group `by`: `a or on (by) b or on (by) c`."""
    return f" or on ({', '.join(by)}) ".join(f"({t})" if " or " in t else t for t in terms)


def labelled(expr: str, label: str, value: str) -> str:
    """`expr` with `label="value"` added (names the older figure a panel shows)."""
    return f'label_replace({expr}, "{label}", "{value}", "", "")'


@dataclass(frozen=True)
class SGLangFallbacks:
    """Memory figures for one prefix, each built from the newest name a target has."""

    qs: SGLangQueries

    def tokens(self, inner: str, by: tuple[str, ...]) -> str:
        """A count over ranks: max within a DP group, summed over DP groups, kept by `by`."""
        return f"sum{_by(by)} (max by ({', '.join((*by, DP_GROUP))}) ({inner}))"

    def usage(self, metric: SGLangMetric, by: tuple[str, ...]) -> str:
        """A share over ranks: the highest one."""
        return f"max{_by(by)} ({self.qs.ranked(metric)})"

    def count(self, metric: SGLangMetric, by: tuple[str, ...]) -> str:
        return self.tokens(self.qs.ranked(metric), by)

    def full_usage(self, by: tuple[str, ...]) -> str:
        """full_token_usage (0.5.10rc0 on), else token_usage labelled `source="token_usage"`:
        the full pool, or the fuller of full and swa on sliding-window models."""
        older = labelled(self.usage(sg.TOKEN_USAGE, by), SOURCE, sg.TOKEN_USAGE.name)
        return first_of([self.usage(sg.FULL_TOKEN_USAGE, by), older], by)

    def full_used(self, by: tuple[str, ...]) -> str:
        """kv_used_tokens (main 2026-08 on), else num_used_tokens (every release)."""
        return first_of([self.count(sg.KV_USED, by), self.count(sg.NUM_USED_TOKENS, by)], by)

    def _estimated_capacity(self) -> str:
        """num_used_tokens / token_usage per rank while in use: releases before 0.5.6 report
        no capacity, but token_usage is num_used_tokens over it (exact without SWA)."""
        used, usage = (self.qs.ranked(m) for m in (sg.NUM_USED_TOKENS, sg.TOKEN_USAGE))
        return f"{used} / ({usage} > 0)"

    def full_capacity(self, by: tuple[str, ...]) -> str:
        """max_total_num_tokens (0.5.6 on), else the estimate above."""
        reported = self.count(sg.MAX_TOTAL_TOKENS, by)
        return first_of([reported, self.tokens(self._estimated_capacity(), by)], by)

    def full_free(self, by: tuple[str, ...]) -> str:
        """Available and evictable together (capacity - used), only where SGLang reports no
        split (before main 2026-08), so that a stack of the partition still adds up."""
        free = f"({self.full_capacity(by)}) - ({self.full_used(by)})"
        return f"{free} unless on ({', '.join(by)}) {self.count(sg.KV_AVAILABLE, by)}"

    def retraction_rate(self, by: tuple[str, ...]) -> str:
        """Requests retracted per second: the counter (0.5.7 on), else the per-request
        histogram's sum (0.5.5 on, counted as requests finish), else the slope of
        total_retracted_reqs (0.4.10 to 0.5.2, a gauge counting up)."""
        window = self.qs.window
        counter = self.tokens(f"rate({self.qs.ranked(sg.RETRACTED_REQUESTS)}[{window}])", by)
        histogram = self.qs.series(sg.RETRACTIONS_PER_REQUEST, "_sum")
        per_request = f"sum{_by(by)} (rate({histogram}[{window}]))"
        so_far = self.qs.ranked(sg.RETRACTED_SO_FAR)
        slope = self.tokens(f"clamp_min(deriv({so_far}[{window}]), 0)", by)
        return first_of([counter, per_request, slope], by)

    def retracted_last_window(self, by: tuple[str, ...]) -> str:
        """num_retracted_reqs averaged over the window (requests retracted in SGLang's latest
        stats window; 0.5.2 on), where no per-second figure exists (0.5.3, 0.5.4)."""
        gauge = f"avg_over_time({self.qs.ranked(sg.RETRACTED_LAST_WINDOW)}[{self.qs.window}])"
        return f"{self.tokens(gauge, by)} unless on ({', '.join(by)}) ({self.retraction_rate(by)})"


def _by(by: tuple[str, ...]) -> str:
    return f" by ({', '.join(by)})" if by else ""
