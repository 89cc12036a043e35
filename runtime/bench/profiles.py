"""What limits a missed target: the top entries of a cProfile of some steps, as JSON-ready dicts
and as one line for the table.

With `within` (parts of module paths, say the host code), an entry counts only the time spent in
those modules' own lines plus, for any other function (a torch built-in, say), the time of its
calls made directly from those modules: what that code costs, wherever its time lands.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

Key = tuple[str, int, str]


@dataclass(frozen=True)
class ProfileEntry:
    """One function of a profile, its own time and its time with callees, per profiled step."""

    function: str  # path:line(name), or {built-in method ...}
    own_ms_per_step: float
    cumulative_ms_per_step: float
    calls_per_step: float
    own_share: float  # own time / the profiled wall time


def _label(key: Key) -> str:
    path, line, name = key
    if path == "~":
        return name
    # the package path (telemetry/..., opentelemetry/...): names which code it is
    short = path.split("site-packages/")[-1].removeprefix(os.getcwd() + "/")
    return f"{short}:{line}({name})"


def _matches(key: Key, within: tuple[str, ...]) -> bool:
    return any(part in key[0] for part in within)


def _times(key: Key, row: tuple, within: tuple[str, ...]) -> tuple[float, float, float]:
    """(calls, own s, cumulative s) of one function, limited to `within` when given."""
    _, calls, own, cumulative, callers = row
    if not within or _matches(key, within):
        return calls, own, cumulative
    edges = [edge for caller, edge in callers.items() if _matches(caller, within)]
    return (sum(e[1] for e in edges), sum(e[2] for e in edges), sum(e[3] for e in edges))


def profile_steps(step: Callable[[], object], num_steps: int, top: int = 12,
                  within: tuple[str, ...] = ()) -> list[ProfileEntry]:
    """Runs `step` `num_steps` times under cProfile; the `top` functions by own time."""
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for _ in range(num_steps):
        step()
    profiler.disable()
    wall = time.perf_counter() - start
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = [(key, *_times(key, row, within)) for key, row in stats.items()]
    rows = sorted((r for r in rows if r[2] > 0), key=lambda r: r[2], reverse=True)[:top]
    return [
        ProfileEntry(_label(key), 1e3 * own / num_steps, 1e3 * cumulative / num_steps,
                     calls / num_steps, own / wall)
        for key, calls, own, cumulative in rows
    ]


def summary(entries: list[ProfileEntry], num: int = 3, scope: str = "") -> str:
    """The first `num` entries as one line: name, own ms per step, share of the wall time."""
    parts = [f"{e.function} {e.own_ms_per_step:.3g} ms ({e.own_share:.0%})" for e in entries[:num]]
    where = f" ({scope})" if scope else ""
    return f"cProfile top by own time per step{where}: " + "; ".join(parts)


def as_json(entries: list[ProfileEntry]) -> list[dict[str, object]]:
    return [asdict(e) for e in entries]
