"""Starts the engine process and uvicorn together; stops both.

`RunningServer` runs uvicorn on a background thread (tests, embedding); `serve` blocks until
Ctrl-C, SIGTERM or the engine process's end (the `poolscope serve` verb). The engine runs in its
own process (engine/process/): this process is the frontend (HTTP, tokenization, text, metrics,
logs). Either way a stop drains first (see drain.py): no new requests, running ones finish within
the drain timeout, the rest end with an error answer; then `finish_stop` stops and reaps the
engine process and telemetry.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from runtime.engine.config import EngineConfig
from runtime.engine.observability import ObservabilitySettings
from runtime.engine.process.client import EngineClient
from runtime.engine.process.messages import Ready
from runtime.server.app import ServerSettings, create_app
from runtime.server.chat_template import ChatTemplate
from runtime.server.drain import END_GRACE_S, DrainingServer
from runtime.server.listen_errors import bind_error
from runtime.server.state import ServerState
from telemetry import catalog
from telemetry.logs.logging import LogSettings, get_logger

DEFAULT_MODEL_NAME = "poolscope-hybrid"
START_TIMEOUT_S = 30.0
ENGINE_WATCH_S = 0.2  # how often `serve` looks for a failed engine loop


def model_name(config: EngineConfig, ready: Ready) -> str:
    """The id /v1/models lists: the built-in default's name, or the model directory's."""
    return DEFAULT_MODEL_NAME if config.model == "default" else Path(ready.model_dir).name


class _Server(DrainingServer):
    """The draining server, remembering the signal that stopped it.

    NOTE: uvicorn re-raises that signal after its graceful shutdown, with the handler that was
    there before; where SIGINT is ignored (a job started in the background by a script) nothing
    is raised, so the signal is taken from here instead.
    """

    exit_signal: int | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.exit_signal = sig
        super().handle_exit(sig, frame)


class RunningServer:
    """The engine process plus uvicorn on a socket bound at start (port 0 picks a free one),
    with telemetry in this process: metrics on /metrics (and OTLP), log events."""

    def __init__(
        self,
        config: EngineConfig,
        settings: ServerSettings,
        observability: ObservabilitySettings | None = None,
        log_settings: LogSettings | None = None,
    ) -> None:
        self.config, self.settings = config, settings
        self.observability = observability or ObservabilitySettings()
        self.engine = EngineClient(config, log_settings, on_records=self._on_records)
        self.telemetry: Any = None
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._started_at = time.monotonic()

    @property
    def url(self) -> str:
        assert self._socket is not None, "start() first"
        host, port = self._socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.settings.host else socket.AF_INET
        # NOTE: proto must be IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted
        # connections only for sockets created as TCP. Without it every small reply on a kept-open
        # connection (each Prometheus scrape) stalls ~40 ms on the client's delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.settings.host, self.settings.port))
        except OSError as exc:  # one line naming the address and the way out, not [Errno 98]
            sock.close()
            raise bind_error(exc, self.settings.host, self.settings.port) from exc
        sock.listen(128)
        sock.set_inheritable(True)
        self._socket = sock
        return sock

    def launch(self) -> socket.socket:
        """Binds the socket (first: a busy port fails before a model loads), starts the engine
        process and builds the app around its handshake."""
        try:
            sock = self.bind()
        except BaseException:
            self.engine.stop()  # frees the channel made for it
            raise
        try:
            ready = self.engine.start()
        except BaseException:
            sock.close()
            raise
        self._wire(ready)
        return sock

    def _wire(self, ready: Ready) -> None:
        from runtime.server.frontend_telemetry import FrontendTelemetry

        name = model_name(self.config, ready)
        assert self.engine.tokenizer is not None
        self.telemetry = FrontendTelemetry.create(ready, name, self.observability)
        self.metrics = self.telemetry.metrics
        self.state = ServerState(
            engine=self.engine, model_name=name, tokenizer=self.engine.tokenizer,
            chat_template=ChatTemplate.from_model_dir(Path(ready.model_dir)),
            max_context=ready.max_context, registry=self.metrics.registry,
            created=int(time.time()),
        )
        # log_config=None: uvicorn's records go through the root logger, in our layout.
        config = uvicorn.Config(create_app(self.state, self.settings), log_level="warning",
                                log_config=None)
        self.server = _Server(config, self.engine, self.settings.drain_timeout_s)

    def _on_records(self, records: list[Any]) -> None:
        if self.telemetry is not None:
            self.telemetry.consume(records)

    def start(self) -> str:
        """Starts the engine process and uvicorn; returns the base URL once it accepts
        requests."""
        sock = self.launch()
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                        name="poolscope-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.finish_stop("error")
                raise RuntimeError("the HTTP server did not start")
            time.sleep(0.02)
        self.log_started()
        return self.url

    def log_started(self) -> None:
        self._started_at = time.monotonic()
        summary, ready = self.engine.summary, self.engine.ready
        assert summary is not None and ready is not None
        pools = {name: part.capacity for name, part in summary.stats.pools.items()}
        get_logger("poolscope.server").info(
            catalog.SERVER_STARTED.name, url=self.url, model=self.state.model_name,
            version=self.metrics.settings.version, pools=pools,
            decode_log_interval=self.observability.decode_log_interval,
            engine_pid=self.engine.pid,
            torch_threads=ready.torch_threads,
        )

    def log_stopped(self, reason: str) -> None:
        """The `server_stopped` event, from the engine's last report (its `Stopped` message,
        or an earlier one when it was killed)."""
        summary, error = self.engine.summary, self.engine.error
        assert summary is not None
        leaked = summary.leaked_slots
        get_logger("poolscope.server").info(
            catalog.SERVER_STOPPED.name, reason=reason,
            uptime_s=round(time.monotonic() - self._started_at, 3),
            num_requests_served=summary.num_finished,
            last_check_ok=not any(leaked.values()) if summary.check_counts else None,
            leaked_slots=leaked, num_leaks=sum(summary.leak_counts.values()),
            **({"error": error} if error is not None else {}),
        )

    def stop(self) -> None:
        """Drains (see drain.py), then finishes the stop."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(self.settings.drain_timeout_s + END_GRACE_S + 10)
        self.finish_stop()

    def finish_stop(self, reason: str | None = None) -> None:
        """The one place every stop ends, once uvicorn has drained and returned: the engine
        process stops and is reaped, `server_stopped` is logged (with `reason`, else
        engine_error or stopped), telemetry stops, the socket closes."""
        self.engine.stop()
        if reason is None:
            reason = "engine_error" if self.engine.error is not None else "stopped"
        self.log_stopped(reason)
        self.metrics.shutdown()
        if self._socket is not None:
            self._socket.close()

    def __enter__(self) -> RunningServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


class _Shutdown(Exception):
    """SIGTERM, re-raised by uvicorn after its graceful shutdown."""


def _raise_shutdown(signum: int, frame: object) -> None:
    raise _Shutdown


def _stop_on_engine_error(running: RunningServer, done: threading.Event) -> None:
    """Ends the HTTP server once the engine loop has failed: a server that can only answer
    503 should exit, so that its supervisor sees it and restarts it."""
    while not done.wait(ENGINE_WATCH_S):
        if running.engine.error is not None:
            running.server.should_exit = True
            return


def _stop_reason(running: RunningServer) -> str:
    """Why `server.run` returned without an exception: a failed engine or a caught signal."""
    if running.engine.error is not None:
        return "engine_error"
    sig = running.server.exit_signal
    return signal.Signals(sig).name if sig is not None else "stopped"


def serve(
    config: EngineConfig,
    settings: ServerSettings,
    observability: ObservabilitySettings | None = None,
    on_ready: Callable[[str], None] | None = None,
    log_settings: LogSettings | None = None,
) -> str:
    """Serves until Ctrl-C, SIGTERM or the engine process's end, then drains (drain.py), stops
    the engine process and logs `server_stopped`; returns its reason (SIGINT, SIGTERM,
    engine_error). uvicorn re-raises the signal after its shutdown (our drain included); that
    re-raise ends here."""
    running = RunningServer(config, settings, observability, log_settings)
    sock = running.launch()
    done = threading.Event()
    threading.Thread(target=_stop_on_engine_error, args=(running, done),
                     name="poolscope-engine-watch", daemon=True).start()
    previous = signal.signal(signal.SIGTERM, _raise_shutdown)
    reason = "error"  # an exception out of uvicorn: it propagates after the event
    try:
        running.log_started()
        if on_ready is not None:
            on_ready(running.url)
        running.server.run(sockets=[sock])
        reason = _stop_reason(running)
    except KeyboardInterrupt:
        reason = "SIGINT"
    except _Shutdown:
        reason = "SIGTERM"
    finally:
        done.set()
        signal.signal(signal.SIGTERM, previous)
        running.finish_stop(reason)
    return reason
