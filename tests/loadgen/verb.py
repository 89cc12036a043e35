"""Driving `poolscope loadgen` in-process: its flags parsed as the CLI parses them, and its HTTP
client routed to an in-process transport instead of the network."""

from __future__ import annotations

import argparse

import httpx
import pytest

from runtime.loadgen import runner
from runtime.loadgen.args import add_parser
from runtime.loadgen.client import make_http_client
from runtime.loadgen.workload import LoadgenConfig


def parse(*argv: str) -> argparse.Namespace:
    """`poolscope loadgen ARGV...` as the CLI's parser reads it."""
    parser = argparse.ArgumentParser(prog="poolscope")
    add_parser(parser.add_subparsers(dest="verb", required=True))
    return parser.parse_args(["loadgen", *argv])


def route(monkeypatch: pytest.MonkeyPatch, transport: httpx.AsyncBaseTransport) -> None:
    """Routes the runner's HTTP client to `transport` instead of the network."""

    def fake(config: LoadgenConfig, _: object = None) -> httpx.AsyncClient:
        return make_http_client(config, transport)

    monkeypatch.setattr(runner, "make_http_client", fake)
