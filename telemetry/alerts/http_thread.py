"""uvicorn on a background thread over a socket bound up front.

Binding before the thread starts makes a busy port an `OSError` in the caller (not a log line
from a dying thread) and gives port 0 its real number at once.

    sock = bind_tcp("127.0.0.1", 0)
    server = UvicornThread(app, sock, name="alert-sink").start()
    ...
    server.stop()
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

START_TIMEOUT_S = 30.0


def bind_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # NOTE: proto must be IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections
    # only for sockets created as TCP; without it small replies on kept-open connections stall
    # ~40 ms on the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class UvicornThread:
    """Serves `app` on `sock` from a daemon thread; `start()` returns once it accepts,
    `stop()` shuts it down and closes the socket."""

    def __init__(self, app: Any, sock: socket.socket, name: str) -> None:
        # log_config=None: uvicorn's records go through the root logger, in our layout.
        config = uvicorn.Config(app, log_level="warning", log_config=None, access_log=False)
        self.server = uvicorn.Server(config)
        self._socket = sock
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, name=name, daemon=True
        )

    def start(self) -> UvicornThread:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._socket.close()
                raise RuntimeError(f"{self._thread.name}: the HTTP server did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        self._socket.close()
