"""Host time of a decode step: `engine.step()` wall time minus the model's forward.

A timing wrapper goes on the engine's real runner for the measurement: it times the runner's
`forward` (batch building + model) and, inside it, the model call alone. Host time is the step
minus the model call, so building the batch counts as host work, as do scheduling, memory
bookkeeping, sampling and output handling. On CUDA each timed call ends with a synchronize, so the
forward's time includes its kernels.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from runtime.engine.engine import Engine
from runtime.loadgen.report import percentile


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


@dataclass
class _Timed:
    """Calls `fn` and adds its seconds to `spent`, after a CUDA synchronize when on CUDA."""

    fn: Callable[..., Any]
    device: torch.device
    spent: float = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = self.fn(*args, **kwargs)
        _sync(self.device)
        self.spent += time.perf_counter() - start
        return out

    def __getattr__(self, name: str) -> Any:  # the model's attributes stay readable
        return getattr(self.fn, name)


@dataclass
class StepTimes:
    """Seconds per measured step: the whole step, the runner's forward, the model call."""

    step: list[float] = field(default_factory=list)
    forward: list[float] = field(default_factory=list)
    model: list[float] = field(default_factory=list)

    @property
    def host(self) -> list[float]:
        """Step minus model call: everything the step does outside the model's forward."""
        return [s - m for s, m in zip(self.step, self.model, strict=True)]

    @property
    def batch_build(self) -> list[float]:
        return [f - m for f, m in zip(self.forward, self.model, strict=True)]

    def summary_ms(self) -> dict[str, float]:
        """Median and p90 in ms of each part, and the host share of the median step."""
        out: dict[str, float] = {}
        for name in ("step", "forward", "model", "host", "batch_build"):
            ms = [1e3 * s for s in getattr(self, name)]
            out[f"{name} p50 ms"] = statistics.median(ms)
            out[f"{name} p90 ms"] = percentile(ms, 90)
        out["host share"] = out["host p50 ms"] / out["step p50 ms"]
        return out


@contextmanager
def timed_runner(engine: Engine) -> Iterator[tuple[_Timed, _Timed]]:
    """Installs the timing wrappers on `engine.runner` (its `forward`, its `model`) and removes
    them on exit."""
    runner = engine.runner
    device = torch.device(engine.runner.device)
    forward, model = _Timed(runner.forward, device), _Timed(runner.model, device)
    runner.forward, runner.model = forward, model  # type: ignore[method-assign]
    try:
        yield forward, model
    finally:
        del runner.forward  # the class's method again
        runner.model = model.fn


def time_steps(engine: Engine, num_steps: int, batch: int) -> StepTimes:
    """Times `num_steps` calls of `engine.step()`, each of which must decode `batch` requests."""
    times = StepTimes()
    device = torch.device(engine.runner.device)
    with timed_runner(engine) as (forward, model):
        for _ in range(num_steps):
            forward.spent = model.spent = 0.0
            start = time.perf_counter()
            if not engine.step():
                raise RuntimeError("the decode batch ended early")
            _sync(device)
            times.step.append(time.perf_counter() - start)
            times.forward.append(forward.spent)
            times.model.append(model.spent)
            running = engine.scheduler.running
            if len(running) != batch or any(r.is_prefilling for r in running):
                raise RuntimeError(f"{len(running)} requests running, {batch} decoding asked")
    return times
