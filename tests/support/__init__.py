"""Helpers every test folder shares: free ports, polling, Prometheus queries. One home each."""

from tests.support.net import free_port
from tests.support.polling import wait_until
from tests.support.prometheus import firing, query, wait_for_series

__all__ = ["firing", "free_port", "query", "wait_for_series", "wait_until"]
