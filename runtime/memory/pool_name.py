"""PoolName: every pool and prefix-cache component, as one Enum (its values are the telemetry
`pool` label values). Counters keyed by it fail on a misspelt name instead of reading 0."""

from __future__ import annotations

from enum import Enum


class PoolName(Enum):
    FULL = "full"
    SWA = "swa"
    MAMBA = "mamba"
    REQ = "req"
    HOST = "host"
