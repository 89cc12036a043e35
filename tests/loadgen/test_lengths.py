"""Tests for runtime.loadgen.lengths: each distribution keeps its mean and its bounds."""

from __future__ import annotations

import random
import statistics

import pytest

from runtime.loadgen.lengths import EXP_CAP_RATIO, LengthDist, LengthSpec

NUM_SAMPLES = 20_000


def _samples(spec: LengthSpec, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [spec.sample(rng) for _ in range(NUM_SAMPLES)]


def test_fixed_is_exact() -> None:
    """A fixed distribution returns its mean every time and consumes no randomness."""
    rng = random.Random(1)
    state = rng.getstate()
    assert {LengthSpec(17).sample(rng) for _ in range(100)} == {17}
    assert rng.getstate() == state


@pytest.mark.parametrize(("mean", "spread"), [(64, 0.5), (100, 0.25), (7, 1.0), (1, 0.5)])
def test_uniform_mean_and_bounds(mean: int, spread: float) -> None:
    """Uniform lengths stay in [mean - d, mean + d] (low end >= 1) and average close to the mean."""
    spec = LengthSpec(mean, LengthDist.UNIFORM, spread)
    samples = _samples(spec)
    assert min(samples) >= spec.min_len >= 1
    assert max(samples) <= spec.max_len
    assert min(samples) == spec.min_len and max(samples) == spec.max_len
    if spec.min_len == mean - round(mean * spread):  # no raise to 1: the mean is exact
        assert statistics.fmean(samples) == pytest.approx(mean, rel=0.03)


def test_uniform_range_is_symmetric() -> None:
    """The uniform range is symmetric about the mean even where the float product is near .5."""
    for mean in range(2, 200):
        for spread in (0.1, 0.3, 0.5, 0.7):
            spec = LengthSpec(mean, LengthDist.UNIFORM, spread)
            if spec.min_len > 1:
                assert spec.max_len - mean == mean - spec.min_len


@pytest.mark.parametrize("mean", [1, 2, 16, 128])
def test_exponential_mean_and_bounds(mean: int) -> None:
    """Exponential lengths are in [1, EXP_CAP_RATIO * mean] and average close to the mean."""
    spec = LengthSpec(mean, LengthDist.EXPONENTIAL)
    samples = _samples(spec)
    assert min(samples) >= 1
    assert max(samples) <= EXP_CAP_RATIO * mean == spec.max_len
    assert statistics.fmean(samples) == pytest.approx(mean, rel=0.05)


def test_exponential_is_skewed() -> None:
    """Exponential lengths have a median below the mean, unlike uniform ones."""
    samples = _samples(LengthSpec(100, LengthDist.EXPONENTIAL))
    assert statistics.median(samples) < 80


def test_same_seed_same_lengths() -> None:
    """Two generators with the same seed draw the same lengths."""
    spec = LengthSpec(50, LengthDist.EXPONENTIAL)
    assert _samples(spec, seed=3)[:100] == _samples(spec, seed=3)[:100]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mean": 0}, "mean"),
        ({"mean": 2.5}, "mean"),
        ({"mean": True}, "mean"),
        ({"mean": 8, "spread": -0.1}, "spread"),
        ({"mean": 8, "spread": 1.5}, "spread"),
        ({"mean": 8, "dist": "uniform"}, "LengthDist"),
    ],
)
def test_invalid_specs_raise(kwargs: dict[str, object], match: str) -> None:
    """A bad mean, spread or distribution raises ValueError naming it."""
    with pytest.raises(ValueError, match=match):
        LengthSpec(**kwargs)


def test_to_dict_reports_spread_only_for_uniform() -> None:
    """The JSON form names the distribution and carries a spread only for uniform."""
    assert LengthSpec(8).to_dict() == {"mean": 8, "dist": "fixed", "spread": None}
    uniform = LengthSpec(8, LengthDist.UNIFORM, 0.25).to_dict()
    assert uniform == {"mean": 8, "dist": "uniform", "spread": 0.25}
