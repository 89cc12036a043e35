"""The two ZeroMQ sockets between the frontend and the engine process.

The parent binds both on IPC paths in a private temporary folder and the child connects: commands
flow on a PUSH→PULL pair one way, events on another the other way. Each message is one msgpack
frame (messages.py). NOTE: sockets linger on close so that a dying child's last `Stopped` still
reaches the parent.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq

from runtime.engine.process.messages import Codec, command_codec, event_codec

CONNECT_POLL_S = 0.005

LINGER_MS = 2000


@dataclass(frozen=True)
class Addresses:
    commands: str
    events: str

    @classmethod
    def in_folder(cls, folder: Path) -> Addresses:
        return cls(f"ipc://{folder}/commands", f"ipc://{folder}/events")

    @property
    def folder(self) -> Path:
        """The private folder both socket files live in."""
        return Path(self.commands.removeprefix("ipc://")).parent


class _Pair:
    """A socket to send on and one to receive on, with their codecs."""

    def __init__(self, send: zmq.Socket, send_codec: Codec, recv: zmq.Socket,
                 recv_codec: Codec) -> None:
        self._send, self._recv = send, recv
        # NOTE: no high-water mark, so a send fails (instead of blocking, or dropping work)
        # only when the peer is gone.
        send.setsockopt(zmq.SNDHWM, 0)
        self._send_codec, self._recv_codec = send_codec, recv_codec
        self.is_closed = False

    @property
    def recv_socket(self) -> zmq.Socket:
        """For a `zmq.Poller` that also waits on something else (the child's sentinel)."""
        return self._recv

    def send(self, message: Any) -> bool:
        """Queues `message`; False when no peer is connected (it ended), never blocking."""
        try:
            self._send.send(self._send_codec.encode(message), zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return False
        return True

    def send_once_connected(self, message: Any, timeout_s: float) -> bool:
        """`send`, retried for up to `timeout_s` while the peer has not connected yet: a bound
        PUSH socket refuses a send until then (serve's parent sends nothing before the child's
        `Ready`; a loop driven in-process or a benchmark's consumer has no such handshake)."""
        deadline = time.monotonic() + timeout_s
        while not self.send(message):
            if time.monotonic() > deadline:
                return False
            time.sleep(CONNECT_POLL_S)
        return True

    def poll(self, timeout_ms: int) -> bool:
        """True when a message is waiting (after up to `timeout_ms`)."""
        return bool(self._recv.poll(timeout_ms))

    def recv(self) -> Any:
        return self._recv_codec.decode(self._recv.recv(copy=False).buffer)

    def close(self) -> None:
        self.is_closed = True
        self._send.close(LINGER_MS)
        self._recv.close(0)


class ParentChannel(_Pair):
    """Binds both sockets in a fresh temporary folder, removed by `close`."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="poolscope-engine-"))
        self.addresses = Addresses.in_folder(self.folder)
        self._context = zmq.Context()
        send = self._context.socket(zmq.PUSH)
        send.bind(self.addresses.commands)
        recv = self._context.socket(zmq.PULL)
        recv.bind(self.addresses.events)
        super().__init__(send, command_codec(), recv, event_codec())

    def close(self) -> None:
        if self.is_closed:
            return
        super().close()
        self._context.term()
        shutil.rmtree(self.folder, ignore_errors=True)


class ChildChannel(_Pair):
    """Connects to the sockets the parent bound."""

    def __init__(self, addresses: Addresses) -> None:
        self._context = zmq.Context()
        recv = self._context.socket(zmq.PULL)
        recv.connect(addresses.commands)
        send = self._context.socket(zmq.PUSH)
        send.connect(addresses.events)
        super().__init__(send, event_codec(), recv, command_codec())

    def close(self) -> None:
        super().close()
        self._context.term()
