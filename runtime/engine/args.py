"""The one table that maps command-line flags onto EngineConfig fields (serve and generate)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from enum import Enum

from runtime.engine.config import EngineConfig
from runtime.memory.checker import CheckMode
from runtime.memory.faults import FAULT_POINTS
from runtime.memory.memory_config import LeakPolicy, MambaStrategy


@dataclass(frozen=True)
class Flag:
    name: str
    field: str
    help: str
    type: Callable[[str], object] | None = None
    choices: tuple[str, ...] | None = None
    action: str | None = None


def _enum(enum_type: type[Enum]) -> tuple[Callable[[str], object], tuple[str, ...]]:
    return enum_type, tuple(str(m.value) for m in enum_type)  # type: ignore[attr-defined]


FLAGS: tuple[Flag, ...] = (
    Flag("--model", "model", "'default' (built-in poolscope_hybrid) or a model directory", str),
    Flag("--device", "device", "auto, cpu, cuda, cuda:N", str),
    Flag("--dtype", "dtype", "float32, bfloat16 or float16", str),
    Flag("--mem-budget-mb", "mem_budget_mb", "device memory split across the pools whose "
         "size is not given", float),
    Flag("--full-tokens", "full_tokens", "full-attention KV pool, tokens", int),
    Flag("--swa-tokens", "swa_tokens", "sliding-window KV pool, tokens", int),
    Flag("--mamba-slots", "mamba_slots", "mamba state pool, states", int),
    Flag("--swa-full-ratio", "swa_full_ratio", "SWA tokens per full token in a budget split",
         float),
    Flag("--page-size", "page_size", "tokens per KV page", int),
    Flag("--max-context", "max_context", "context limit (default: the model's)", int),
    Flag("--mamba-strategy", "mamba_strategy", "how mamba snapshots reach the prefix cache",
         *_enum(MambaStrategy)),
    Flag("--track-interval", "track_interval", "tokens between mamba track snapshots", int),
    Flag("--host-tier", "host_tier", "keep full-attention KV on host, a bounded buffer on "
         "device", action="store_true"),
    Flag("--host-tokens", "host_tokens", "host pool, tokens (default 4x the full pool)", int),
    Flag("--host-sink-tokens", "host_sink_tokens", "host tier: attention sinks kept", int),
    Flag("--host-recent-tokens", "host_recent_tokens", "host tier: recent tokens kept", int),
    Flag("--host-top-k-pages", "host_top_k_pages", "host tier: selected pages kept", int),
    Flag("--chunked-prefill-size", "chunked_prefill_size", "prompt tokens per prefill step", int),
    Flag("--max-running-requests", "max_running_requests", "requests running at once", int),
    Flag("--max-sessions", "max_sessions", "streaming sessions open at once", int),
    Flag("--session-timeout", "session_timeout_s", "seconds an idle session lives", float),
    Flag("--session-min-idle", "session_min_idle_s", "seconds a session must be idle before "
         "memory pressure may hand its memory to the prefix cache", float),
    Flag("--queue-timeout", "queue_timeout_s", "seconds a request may wait in the queue for "
         "memory before it ends with 503 (pools busy)", float),
    Flag("--mem-check", "mem_check", "memory invariant check: at idle, also after every step, "
         "or never", *_enum(CheckMode)),
    Flag("--idle-check-interval", "idle_check_interval_s", "seconds between memory checks "
         "while idle, to catch leaks when no request comes (0: off)", float),
    Flag("--on-leak", "on_leak", "what a failed memory check does besides counting",
         *_enum(LeakPolicy)),
    Flag("--inject-fault", "faults", "turn on a named memory fault point (demo); repeatable: "
         + ", ".join(sorted(FAULT_POINTS)), action="append"),
    Flag("--engine-seed", "seed", "seed for requests that give none", int),
    Flag("--torch-threads", "torch_threads", "torch intra-op CPU threads (default: the "
         "physical cores this process may run on)", int),
)


def add_engine_args(parser: argparse.ArgumentParser) -> None:
    defaults = {f.name: f.default for f in fields(EngineConfig) if f.default is not MISSING}
    for flag in FLAGS:
        default = defaults.get(flag.field)
        shown = default.value if isinstance(default, Enum) else default
        suffix = "" if shown is None else f" (default: {shown})"
        kwargs: dict = {"dest": flag.field, "help": flag.help + suffix}
        if flag.action == "append":
            kwargs.update(action="append", default=[], metavar="NAME", help=flag.help)
        elif flag.action:
            kwargs.update(action=flag.action)
        else:
            kwargs.update(type=flag.type, default=default, choices=_choices(flag))
            if flag.choices:
                kwargs["metavar"] = "{" + ",".join(flag.choices) + "}"
        parser.add_argument(flag.name, **kwargs)


def _choices(flag: Flag) -> list | None:
    if flag.choices is None or flag.type is None:
        return None
    return [flag.type(c) for c in flag.choices]


def config_from_args(args: argparse.Namespace) -> EngineConfig:
    """EngineConfig from parsed flags; raises ValueError for values the config refuses."""
    values = {flag.field: getattr(args, flag.field) for flag in FLAGS}
    values["faults"] = frozenset(values["faults"])
    return EngineConfig(**values)
