"""The cProfile summary attached to missed targets."""

from __future__ import annotations

import random
import statistics

from runtime.bench.profiles import as_json, profile_steps, summary

DATA = [random.Random(0).random() for _ in range(20_000)]


def _step() -> None:
    sorted(DATA)  # called here: this module's own cost
    statistics.median(DATA)  # sorts again, inside statistics


def _sorted_calls(entries: list) -> float:
    (entry,) = [e for e in entries if "sorted" in e.function]
    return entry.calls_per_step


def test_profile_counts_calls_per_step() -> None:
    """Over the whole step, `sorted` runs twice per step (once directly, once in median)."""
    entries = profile_steps(_step, num_steps=3, top=50)
    assert _sorted_calls(entries) == 2
    assert all(e.own_ms_per_step >= 0 and 0 <= e.own_share <= 1 for e in entries)
    assert as_json(entries)[0]["function"] == entries[0].function


def test_within_keeps_only_calls_made_from_the_named_code() -> None:
    """Limited to this module, only the direct `sorted` call counts (not the one inside
    median); the summary line names the scope."""
    entries = profile_steps(_step, num_steps=3, top=50, within=("test_profiles",))
    assert _sorted_calls(entries) == 1
    line = summary(entries, scope="this module")
    assert line.startswith("cProfile top by own time per step (this module): ")
