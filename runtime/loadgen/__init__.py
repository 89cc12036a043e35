"""`poolscope loadgen`: an HTTP load generator for the OpenAI-compatible server.

In-process use: `summary = await run(LoadgenConfig(url=..., max_requests=...))`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.loadgen.args import add_parser, run_loadgen
from runtime.loadgen.lengths import LengthDist, LengthSpec
from runtime.loadgen.record import RequestRecord
from runtime.loadgen.report import LatencyStats, Summary, percentile
from runtime.loadgen.workload import Conversation, LoadgenConfig, RequestSpec, Workload

if TYPE_CHECKING:
    from runtime.loadgen.client import ServerUnreachable
    from runtime.loadgen.runner import run

__all__ = [
    "Conversation",
    "LatencyStats",
    "LengthDist",
    "LengthSpec",
    "LoadgenConfig",
    "RequestRecord",
    "RequestSpec",
    "ServerUnreachable",
    "Summary",
    "Workload",
    "add_parser",
    "percentile",
    "run",
    "run_loadgen",
]


def __getattr__(name: str) -> object:
    # NOTE: `run` and `ServerUnreachable` pull in httpx and tqdm; loading them only on first use
    # keeps `poolscope --help` (which imports this package to register the verb) instant.
    if name == "run":
        from runtime.loadgen.runner import run

        return run
    if name == "ServerUnreachable":
        from runtime.loadgen.client import ServerUnreachable

        return ServerUnreachable
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
