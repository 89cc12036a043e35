"""What limits a missed target: the top entries of a cProfile of some steps, as JSON-ready dicts
and as one line for the table."""

from __future__ import annotations

import cProfile
import os
import pstats
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ProfileEntry:
    """One function of a profile, its own time and its time with callees, per profiled step."""

    function: str  # file:line(name), or {built-in method ...}
    own_ms_per_step: float
    cumulative_ms_per_step: float
    calls_per_step: float
    own_share: float  # own time / the profiled wall time


def _label(key: tuple[str, int, str]) -> str:
    path, line, name = key
    if path == "~":
        return name
    # the package path (telemetry/..., opentelemetry/...): names which code it is
    short = path.split("site-packages/")[-1].removeprefix(os.getcwd() + "/")
    return f"{short}:{line}({name})"


def profile_steps(step: Callable[[], object], num_steps: int, top: int = 12) -> list[ProfileEntry]:
    """Runs `step` `num_steps` times under cProfile; the `top` functions by own time."""
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for _ in range(num_steps):
        step()
    profiler.disable()
    wall = time.perf_counter() - start
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    return [
        ProfileEntry(_label(key), 1e3 * tottime / num_steps, 1e3 * cumtime / num_steps,
                     calls / num_steps, tottime / wall)
        for key, (_, calls, tottime, cumtime, _) in rows
    ]


def summary(entries: list[ProfileEntry], num: int = 3, within: tuple[str, ...] = ()) -> str:
    """The first `num` entries (those whose function names one of `within`, when given) as one
    line: name, own ms per step, share of the wall time."""
    if within:
        entries = [e for e in entries if any(part in e.function for part in within)]
    parts = [f"{e.function} {e.own_ms_per_step:.3g} ms ({e.own_share:.0%})" for e in entries[:num]]
    scope = f" in {'/'.join(within)}" if within else ""
    return f"cProfile top by own time per step{scope}: " + "; ".join(parts)


def as_json(entries: list[ProfileEntry]) -> list[dict[str, object]]:
    return [asdict(e) for e in entries]
