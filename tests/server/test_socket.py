"""The listening socket is created as TCP, so asyncio turns Nagle off on every connection."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.server.harness import served


def test_listening_socket_is_tcp_so_replies_are_not_delayed(nemotron_h_dir: Path) -> None:
    """asyncio sets TCP_NODELAY on accepted connections only when the listening socket's proto is
    IPPROTO_TCP; with proto 0 each reply on a kept-open connection waited ~40 ms for a delayed
    ACK (measured by `poolscope bench scrape`)."""
    with served(nemotron_h_dir) as s:
        sock = s.server._socket  # the socket uvicorn serves on
        assert sock is not None and sock.proto == socket.IPPROTO_TCP
