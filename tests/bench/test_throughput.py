"""The throughput benchmark in quick mode: both systems, both models, both workloads."""

from __future__ import annotations

import pytest

from runtime.bench.checkpoints import MODEL_TYPES
from runtime.bench.throughput import TARGETS, run


@pytest.mark.slow
def test_quick_run_reports_both_systems_with_equal_output_tokens() -> None:
    """Quick mode gives a row per model and workload with positive tokens/s on both sides,
    identical output-token counts, a ratio target per row and a positive roofline per model."""
    result = run(quick=True)
    rows = {(row["model"], row["workload"]): row for row in result.rows}
    assert set(rows) == {(m, w) for m in MODEL_TYPES for w in TARGETS}
    for row in rows.values():
        assert row["poolscope tok/s"] > 0 and row["transformers tok/s"] > 0
        assert row["poolscope output tokens"] == row["transformers output tokens"] > 0
        assert row["output tokens"] == row["poolscope output tokens"]
    assert {t.name for t in result.targets} == {f"{m} {w} ratio" for m, w in rows}
    assert {t.limit for t in result.targets} == set(TARGETS.values())
    assert result.details["copy_bandwidth_gb_s"] > 0
    for model_type in MODEL_TYPES:
        roofline = result.details["roofline"][model_type]
        for key in ("weight_bytes", "kv_bytes", "total_bytes", "limit_step_ms",
                    "measured_step_ms", "fraction_of_limit"):
            assert roofline[key] > 0, key
    assert result.details["roofline"]["nemotron_h"]["mamba_state_bytes"] > 0
