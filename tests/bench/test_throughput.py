"""The throughput benchmark in quick mode: both systems, both models, both workloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.bench.checkpoints import MODEL_TYPES
from runtime.bench.throughput import TARGETS, Workload, padding, run


@pytest.mark.slow
def test_quick_run_reports_both_systems_with_equal_output_tokens() -> None:
    """Quick mode gives a row per model and workload with positive tokens/s on both sides,
    identical output-token counts, and a ratio target per row with that model's limit."""
    result = run(quick=True)
    rows = {(row["model"], row["workload"]): row for row in result.rows}
    assert set(rows) == {(m, w) for m in MODEL_TYPES for w in TARGETS[m]}
    for row in rows.values():
        assert row["poolscope tok/s"] > 0 and row["transformers tok/s"] > 0
        assert row["poolscope output tokens"] == row["transformers output tokens"] > 0
        assert row["output tokens"] == row["poolscope output tokens"]
    assert {t.name for t in result.targets} == {f"{m} {w} ratio" for m, w in rows}
    limits = {t.name: t.limit for t in result.targets}
    assert limits == {f"{m} {w} ratio": TARGETS[m][w] for m, w in rows}


def test_padding_tally_counts_whole_batches_and_parts(nemotron_h_dir: Path) -> None:
    """One tallied run of a ragged workload counts prefill queries and decode keys, whole
    batches padding at least as much as parts, and parts padding less on ragged prefills."""
    work = Workload("ragged", [[5] * 60, [6] * 3, [7] * 40, [8] * 2], [3, 3, 3, 3], 2)
    got = padding(nemotron_h_dir, work)
    assert got["prefill padded/token whole"] > got["prefill padded/token parts"] >= 1.0
    assert got["decode keys padded/token whole"] >= got["decode keys padded/token groups"] >= 1.0
    assert got["decode keys padded/token whole"] > 1.0
