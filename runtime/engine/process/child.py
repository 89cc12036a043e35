"""The engine process's entry point (started with multiprocessing's `spawn`).

It ties its life to the parent's, configures logging like the parent's, loads the model from
the EngineConfig, sends the `Ready` handshake, runs `EngineCore`, and always ends with one
`Stopped` message: exit status 0 after `Shutdown`, 1 after an error (whose text it carries).
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from runtime.engine.config import EngineConfig
from runtime.engine.process import messages as m
from runtime.engine.process.channel import Addresses, ChildChannel
from runtime.engine.process.lifeline import die_with_parent, ignore_stop_signals
from telemetry.logs.logging import LogSettings, configure_logging

if TYPE_CHECKING:
    from runtime.engine.engine import Engine

log = logging.getLogger("poolscope.engine_process")


@dataclass(frozen=True)
class ChildSpec:
    """What the parent hands the child (pickled by multiprocessing)."""

    config: EngineConfig
    addresses: Addresses
    parent_pid: int
    log_settings: LogSettings | None = None  # None: leave logging as Python starts it


def run_child(spec: ChildSpec) -> None:
    die_with_parent(spec.parent_pid, spec.addresses.folder)
    ignore_stop_signals()
    if spec.log_settings is not None:
        configure_logging(spec.log_settings)
    channel = ChildChannel(spec.addresses)
    try:
        code = _serve(spec, channel)
    finally:
        channel.close()
    sys.exit(code)


def _serve(spec: ChildSpec, channel: ChildChannel) -> int:
    from runtime.engine.engine import Engine
    from runtime.engine.process.core import EngineCore
    from runtime.engine.process.summary import summarize

    try:
        engine = Engine.from_config(engine_process_config(spec.config))
    except Exception as exc:  # noqa: BLE001 - the parent reports it (a bad model directory)
        # a ValueError (CheckpointError) names its problem in full; others need their type
        channel.send(m.Stopped(None, str(exc) if isinstance(exc, ValueError) else _describe(exc)))
        return 1
    core = EngineCore(engine, channel)
    channel.send(_ready(engine))
    try:
        core.run()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, then exit 1
        log.exception("engine loop stopped")
        core.flush()
        channel.send(m.Stopped(summarize(engine), _describe(exc)))
        return 1
    core.flush()
    channel.send(m.Stopped(summarize(engine)))
    return 0


def engine_process_config(config: EngineConfig) -> EngineConfig:
    """The config the engine process runs: no text (the frontend detokenizes; stop strings are
    still watched), and unless `--torch-threads` says otherwise, one torch intra-op thread per
    physical core available minus one, which is left to the frontend (HTTP, text, telemetry).
    NOTE: measured on the shared 2-core machine, two intra-op threads in the engine process
    beside a busy frontend made the README loadgen run's inter-token p50 433 ms, against
    11-24 ms with one."""
    from runtime.engine.threads import available_cores

    threads = config.torch_threads or max(1, available_cores() - 1)
    return replace(config, torch_threads=threads, produce_text=False)


def _ready(engine: Engine) -> m.Ready:
    from runtime.engine.process.summary import summarize

    lm = engine.lm
    return m.Ready(
        pid=os.getpid(), model_dir=str(lm.path), bos_token_id=lm.config.bos_token_id,
        eos_token_ids=tuple(lm.config.eos_token_ids), vocab_size=lm.config.vocab_size,
        max_context=engine.max_context, cache_pools=tuple(engine.mm.cache.components),
        summary=summarize(engine), snapshot=engine.snapshot(),
        torch_threads=engine.torch_threads.intra_op,
    )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
