"""Helpers every test folder shares: free ports, polling, Prometheus queries, starting and
stopping processes. One home each. The `fresh_logging` fixture (`logs.py`) is offered to every
test by tests/conftest.py."""

from tests.support.net import free_port
from tests.support.polling import wait_until
from tests.support.processes import start_serve, start_verb, stop_process
from tests.support.prometheus import firing, query, wait_for_series

__all__ = [
    "firing", "free_port", "query", "start_serve", "start_verb", "stop_process", "wait_for_series",
    "wait_until",
]
