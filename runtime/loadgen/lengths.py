"""Length distributions for prompts and outputs: fixed, uniform (mean ± spread) or exponential.

Every sampled length is an integer in `[min_len, max_len]`, and both bounds are at least 1.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import Enum

# The exponential tail is cut at this multiple of the mean. The cut moves the mean by about
# (RATIO + 1) * e^-RATIO of itself (< 0.05 %), and keeps one unlucky draw from asking the server
# for a prompt far past its context.
EXP_CAP_RATIO = 10


class LengthDist(Enum):
    """The shape of a length distribution."""

    FIXED = "fixed"
    UNIFORM = "uniform"
    EXPONENTIAL = "exponential"


@dataclass(frozen=True)
class LengthSpec:
    """A distribution of lengths (words for prompts, tokens for outputs) with mean `mean`.

    `fixed` always gives `mean`. `uniform` gives integers spread evenly over `[mean - d, mean + d]`
    with `d = round(mean * spread)` (the low end raised to 1), so its mean is `mean` unless that
    raise applies. `exponential` is the discrete exponential
    (geometric on 1, 2, ...) with mean `mean`, cut at `EXP_CAP_RATIO * mean`.
    `spread` is only read by `uniform`. Raises ValueError on a mean below 1 or a spread
    outside [0, 1].
    """

    mean: int
    dist: LengthDist = LengthDist.FIXED
    spread: float = 0.5

    def __post_init__(self) -> None:
        if isinstance(self.mean, bool) or not isinstance(self.mean, int) or self.mean < 1:
            raise ValueError(f"length mean must be an integer >= 1, got {self.mean!r}")
        if not isinstance(self.dist, LengthDist):
            raise ValueError(f"length distribution must be a LengthDist, got {self.dist!r}")
        if not 0.0 <= self.spread <= 1.0:
            raise ValueError(f"length spread must be in [0, 1], got {self.spread!r}")

    @property
    def min_len(self) -> int:
        """The smallest length `sample` can return."""
        if self.dist is LengthDist.UNIFORM:
            return max(1, self.mean - self._half_width)
        return self.mean if self.dist is LengthDist.FIXED else 1

    @property
    def max_len(self) -> int:
        """The largest length `sample` can return."""
        if self.dist is LengthDist.UNIFORM:
            return self.mean + self._half_width
        return self.mean if self.dist is LengthDist.FIXED else EXP_CAP_RATIO * self.mean

    @property
    def _half_width(self) -> int:
        """Integer half-width of the uniform range, so the range is symmetric about the mean."""
        return round(self.mean * self.spread)

    def sample(self, rng: random.Random) -> int:
        """One length drawn with `rng` (consumes one draw, none for `fixed`)."""
        if self.dist is LengthDist.FIXED:
            return self.mean
        if self.dist is LengthDist.UNIFORM:
            return rng.randint(self.min_len, self.max_len)
        return min(self.max_len, _geometric(rng, self.mean))

    def to_dict(self) -> dict[str, object]:
        """The JSON form: mean, dist name, and spread (null unless uniform)."""
        spread = self.spread if self.dist is LengthDist.UNIFORM else None
        return {"mean": self.mean, "dist": self.dist.value, "spread": spread}


def _geometric(rng: random.Random, mean: int) -> int:
    """A draw on 1, 2, ... with P(k) = (1 - p)^(k - 1) p and p = 1 / mean, so E[k] = mean."""
    if mean == 1:
        return 1
    u = 1.0 - rng.random()  # in (0, 1], so log(u) is finite
    return 1 + math.floor(math.log(u) / math.log(1.0 - 1.0 / mean))
