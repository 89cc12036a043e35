"""The engine channel's sockets: a bound PUSH refuses a send until its peer connects."""

from __future__ import annotations

import threading

from runtime.engine.process import messages as m
from runtime.engine.process.channel import ChildChannel, ParentChannel


def test_a_send_before_the_peer_connects_is_refused_and_send_once_connected_waits() -> None:
    """With no child connected the parent's send is refused (False); send_once_connected
    retries until a child connects late, and the message then arrives."""
    parent = ParentChannel()
    children: list[ChildChannel] = []
    try:
        assert parent.send(m.Shutdown()) is False
        late = threading.Timer(0.2, lambda: children.append(ChildChannel(parent.addresses)))
        late.start()
        assert parent.send_once_connected(m.Shutdown(), timeout_s=10.0)
        late.join()
        assert children[0].poll(5000) and isinstance(children[0].recv(), m.Shutdown)
    finally:
        for child in children:
            child.close()
        parent.close()


def test_send_once_connected_gives_up_after_its_timeout() -> None:
    """With no peer at all, send_once_connected returns False once its timeout has passed."""
    parent = ParentChannel()
    try:
        assert parent.send_once_connected(m.Shutdown(), timeout_s=0.05) is False
    finally:
        parent.close()
