"""What every benchmark reports: the machine, repeated samples as median and spread, targets met
or missed, a printed table and a JSON file."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO


@dataclass(frozen=True)
class Machine:
    cores: int
    torch_threads: int
    torch_version: str
    python: str
    platform: str
    processor: str

    @classmethod
    def here(cls) -> Machine:
        import torch  # here, not at the top: `poolscope bench --help` starts without torch

        return cls(
            cores=os.cpu_count() or 0, torch_threads=torch.get_num_threads(),
            torch_version=torch.__version__, python=platform.python_version(),
            platform=platform.platform(), processor=_cpu_model(),
        )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


@dataclass(frozen=True)
class Spread:
    """Median and spread of repeated samples (min, max, and the relative half-range)."""

    median: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, samples: list[float]) -> Spread:
        if not samples:
            raise ValueError("no samples")
        return cls(statistics.median(samples), min(samples), max(samples), len(samples))

    @property
    def rel_spread(self) -> float:
        return (self.max - self.min) / 2 / self.median if self.median else 0.0


def timed(fn: Callable[[], object], warmup: int, repeats: int) -> list[float]:
    """Seconds per call of `fn`, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


@dataclass(frozen=True)
class Target:
    """One target of the issue: `value` compared to `limit` (">=" or "<=")."""

    name: str
    value: float
    op: str
    limit: float
    note: str = ""  # what limits it, when missed

    @property
    def is_met(self) -> bool:
        return self.value >= self.limit if self.op == ">=" else self.value <= self.limit

    def line(self) -> str:
        verdict = "met" if self.is_met else "MISSED"
        extra = f" ({self.note})" if self.note and not self.is_met else ""
        return f"{verdict:6s} {self.name}: {self.value:.4g} {self.op} {self.limit:g}{extra}"


@dataclass
class BenchResult:
    name: str
    columns: list[str]
    rows: list[dict[str, Any]]
    targets: list[Target] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    is_quick: bool = False

    def to_json(self, machine: Machine, seconds: float) -> dict[str, Any]:
        return {
            "bench": self.name, "quick": self.is_quick, "machine": asdict(machine),
            "seconds": round(seconds, 2), "columns": self.columns, "rows": self.rows,
            "targets": [asdict(t) | {"met": t.is_met} for t in self.targets],
            "details": self.details,
        }


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e3 else f"{value:,.0f}"
    return str(value)


def print_table(result: BenchResult, out: TextIO) -> None:
    cells = [[_cell(row.get(c, "")) for c in result.columns] for row in result.rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(result.columns)]
    print(f"\n## {result.name}{' (quick)' if result.is_quick else ''}", file=out)
    print("| " + " | ".join(c.ljust(w) for c, w in zip(result.columns, widths, strict=True)) + " |",
          file=out)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|", file=out)
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |",
              file=out)
    for target in result.targets:
        print(target.line(), file=out)


def write_json(result: BenchResult, machine: Machine, seconds: float, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{result.name}.json"
    path.write_text(json.dumps(result.to_json(machine, seconds), indent=2) + "\n")
    return path
