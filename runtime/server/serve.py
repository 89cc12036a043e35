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

import uvicorn

from runtime.async_engine import AsyncEngine
from runtime.engine import Engine
from runtime.observability import ObservabilitySettings, instrument
from runtime.server.app import ServerSettings, create_app
from runtime.server.chat_template import ChatTemplate
from runtime.server.drain import END_GRACE_S, DrainingServer
from runtime.server.state import ServerState
from telemetry import catalog
from telemetry.logging import get_logger

DEFAULT_MODEL_NAME = "poolscope-hybrid"
START_TIMEOUT_S = 30.0


def model_name(engine: Engine) -> str:
    """The id /v1/models lists: the built-in default's name, or the model directory's."""
    return DEFAULT_MODEL_NAME if engine.config.model == "default" else engine.lm.path.name


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
        )  # fmt: skip
        # log_config=None: uvicorn's records go through the root logger, in our layout.
        config = uvicorn.Config(create_app(self.state, settings), log_level="warning",
                                log_config=None)  # fmt: skip
        self.server = DrainingServer(config, self.async_engine, settings.drain_timeout_s)
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

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
        sock.bind((self.settings.host, self.settings.port))
        sock.listen(128)
        sock.set_inheritable(True)
        self._socket = sock
        return sock

    def start(self) -> str:
        """Starts the engine loop and uvicorn; returns the base URL once it accepts requests."""
        sock = self.bind()
        self.async_engine.start()
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                        name="poolscope-http", daemon=True)  # fmt: skip
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the HTTP server did not start")
            time.sleep(0.02)
        self.log_started()
        return self.url

    def log_started(self) -> None:
        pools = {name: part.capacity for name, part in self.engine.last_stats.pools.items()}
        get_logger("poolscope.server").info(
            catalog.SERVER_STARTED.name, url=self.url, model=self.state.model_name,
            version=self.metrics.settings.version, pools=pools,
            decode_log_interval=self.observability.decode_log_interval,
        )  # fmt: skip

    def stop(self) -> None:
        """Drains (see drain.py), then finishes the stop."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(self.settings.drain_timeout_s + END_GRACE_S + 10)
        self.finish_stop()

    def finish_stop(self) -> None:
        """The one place every stop ends, once uvicorn has drained and returned: the engine
        loop and telemetry stop, the socket closes. (A `server_stopped` event belongs here.)"""
        self.async_engine.stop()
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


def serve(
    engine: Engine,
    settings: ServerSettings,
    observability: ObservabilitySettings | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serves until Ctrl-C or SIGTERM, then drains and stops. uvicorn re-raises the signal
    after its shutdown (our drain included); that re-raise ends here as a clean return."""
    running = RunningServer(engine, settings, observability)
    sock = running.bind()
    running.async_engine.start()
    previous = signal.signal(signal.SIGTERM, _raise_shutdown)
    try:
        running.log_started()
        if on_ready is not None:
            on_ready(running.url)
        running.server.run(sockets=[sock])
    except (KeyboardInterrupt, _Shutdown):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        running.finish_stop()
