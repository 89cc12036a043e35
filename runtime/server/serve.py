"""Starts the engine loop and uvicorn together; stops both.

`RunningServer` runs uvicorn on a background thread (tests, embedding); `serve` blocks until
Ctrl-C or SIGTERM (the `poolscope serve` verb). Either way a stop drains first (see drain.py):
no new requests, running ones finish within the drain timeout, the rest end with an error
answer; then `_finish_stop` stops the engine loop and telemetry.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType

import uvicorn

from runtime.engine.async_engine import AsyncEngine
from runtime.engine.engine import Engine
from runtime.engine.observability import ObservabilitySettings, instrument
from runtime.server.app import ServerSettings, create_app
from runtime.server.chat_template import ChatTemplate
from runtime.server.drain import END_GRACE_S, DrainingServer
from runtime.server.listen_errors import bind_error
from runtime.server.state import ServerState
from telemetry import catalog
from telemetry.logs.logging import get_logger

DEFAULT_MODEL_NAME = "poolscope-hybrid"
START_TIMEOUT_S = 30.0
ENGINE_WATCH_S = 0.2  # how often `serve` looks for a failed engine loop


def model_name(engine: Engine) -> str:
    """The id /v1/models lists: the built-in default's name, or the model directory's."""
    return DEFAULT_MODEL_NAME if engine.config.model == "default" else engine.lm.path.name


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
    """The engine loop plus uvicorn on a socket bound at start (port 0 picks a free one),
    with the engine instrumented: metrics on /metrics (and OTLP), log events."""

    def __init__(
        self,
        engine: Engine,
        settings: ServerSettings,
        observability: ObservabilitySettings | None = None,
    ) -> None:
        self.engine, self.settings = engine, settings
        self.observability = observability or ObservabilitySettings()
        self.metrics = instrument(engine, model_name(engine), self.observability)
        self.async_engine = AsyncEngine(engine)
        self.state = ServerState(
            engine=self.async_engine, model_name=model_name(engine), tokenizer=engine.lm.tokenizer,
            chat_template=ChatTemplate.from_model_dir(engine.lm.path),
            max_context=engine.max_context, registry=self.metrics.registry,
            created=int(time.time()),
        )
        # log_config=None: uvicorn's records go through the root logger, in our layout.
        config = uvicorn.Config(create_app(self.state, settings), log_level="warning",
                                log_config=None)
        self.server = _Server(config, self.async_engine, settings.drain_timeout_s)
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

    def start(self) -> str:
        """Starts the engine loop and uvicorn; returns the base URL once it accepts requests."""
        sock = self.bind()
        self.async_engine.start()
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                        name="poolscope-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the HTTP server did not start")
            time.sleep(0.02)
        self.log_started()
        return self.url

    def log_started(self) -> None:
        self._started_at = time.monotonic()
        pools = {name: part.capacity for name, part in self.engine.last_stats.pools.items()}
        get_logger("poolscope.server").info(
            catalog.SERVER_STARTED.name, url=self.url, model=self.state.model_name,
            version=self.metrics.settings.version, pools=pools,
            decode_log_interval=self.observability.decode_log_interval,
            torch_threads=self.engine.torch_threads.intra_op,
        )

    def log_stopped(self, reason: str) -> None:
        """The `server_stopped` event; call after the engine loop stopped (it reads the engine)."""
        mm, error = self.engine.mm, self.async_engine.error
        leaked = dict(mm.leaked_slots)
        get_logger("poolscope.server").info(
            catalog.SERVER_STOPPED.name, reason=reason,
            uptime_s=round(time.monotonic() - self._started_at, 3),
            num_requests_served=self.engine.counters.finished,
            last_check_ok=not any(leaked.values()) if mm.check_counts else None,
            leaked_slots=leaked, num_leaks=sum(mm.leak_counts.values()),
            **({"error": f"{type(error).__name__}: {error}"} if error is not None else {}),
        )

    def stop(self) -> None:
        """Drains (see drain.py), then finishes the stop."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(self.settings.drain_timeout_s + END_GRACE_S + 10)
        self.finish_stop()

    def finish_stop(self, reason: str | None = None) -> None:
        """The one place every stop ends, once uvicorn has drained and returned: the engine
        loop stops, `server_stopped` is logged (with `reason`, else engine_error or stopped),
        telemetry stops, the socket closes."""
        self.async_engine.stop()
        if reason is None:
            reason = "engine_error" if self.async_engine.error is not None else "stopped"
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
        if running.async_engine.error is not None:
            running.server.should_exit = True
            return


def _stop_reason(running: RunningServer) -> str:
    """Why `server.run` returned without an exception: a failed engine or a caught signal."""
    if running.async_engine.error is not None:
        return "engine_error"
    sig = running.server.exit_signal
    return signal.Signals(sig).name if sig is not None else "stopped"


def serve(
    engine: Engine,
    settings: ServerSettings,
    observability: ObservabilitySettings | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> str:
    """Serves until Ctrl-C, SIGTERM or a failed engine loop, then drains (drain.py), stops the
    engine loop and logs `server_stopped`; returns its reason (SIGINT, SIGTERM, engine_error).
    uvicorn re-raises the signal after its shutdown (our drain included); that re-raise ends
    here."""
    running = RunningServer(engine, settings, observability)
    sock = running.bind()
    running.async_engine.start()
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
