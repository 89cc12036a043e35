"""The stand-in expositions of SGLang, one per era (`sglang_eras/<release>.prom`, written from
that release's metrics collector; each file's header says where from), read into what a test
needs: the metric families each era registers and the label sets of each series."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from telemetry.sglang import catalog as sg

FOLDER = Path(__file__).parent / "sglang_eras"
SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'(\w+)="((?:\\.|[^"\\])*)"')


@dataclass(frozen=True)
class Era:
    """One stand-in: the release it starts at, its text, and what it exposes."""

    release: str
    text: str

    @property
    def families(self) -> set[str]:
        """The metric names of its `# TYPE` lines (counters as `..._total`, as scraped)."""
        return {line.split()[2] for line in self.text.splitlines() if line.startswith("# TYPE")}

    def label_sets(self, series: str) -> list[dict[str, str]]:
        """The label sets of every sample named `series` (no `le`: one per histogram series)."""
        found = []
        for line in self.text.splitlines():
            match = SAMPLE.match(line)
            if match and match.group(1) == series:
                labels = dict(LABEL.findall(match.group(2) or ""))
                if labels.pop("le", None) in (None, "+Inf"):
                    found.append(labels)
        return found


@cache
def eras() -> tuple[Era, ...]:
    """Every stand-in, in release order (the order of the catalog's sources)."""
    found = {p.stem: Era(p.stem, p.read_text()) for p in FOLDER.glob("*.prom")}
    return tuple(found[r] for r in sg.RELEASES if r in found)
