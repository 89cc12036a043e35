"""The engine's request outcome counts are typed fields."""

from __future__ import annotations

import pytest

from runtime.scheduler.outcome_counts import OutcomeCounts


def test_a_misspelt_outcome_fails_to_read_and_to_count() -> None:
    """Reading or incrementing an outcome name that does not exist raises instead of reading 0."""
    counts = OutcomeCounts()
    with pytest.raises(AttributeError):
        _ = counts.retractions  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        counts.out_of_memorys = 1  # type: ignore[attr-defined]
    assert counts.finished == 0
