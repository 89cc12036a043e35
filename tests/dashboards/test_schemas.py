"""The vendored schemas are the workplace's, byte for byte."""

from __future__ import annotations

import pytest

from tests.schemas import COMPOSE, GRAFANA_DASHBOARD, HERE, SHARED


@pytest.mark.parametrize("name", [COMPOSE, GRAFANA_DASHBOARD])
def test_vendored_schema_matches_shared(name: str) -> None:
    """Where ../shared/schemas exists, each vendored schema equals its original."""
    if not (SHARED / name).is_file():
        pytest.skip(f"no {SHARED / name} on this machine (a clean clone elsewhere)")
    assert (HERE / name).read_bytes() == (SHARED / name).read_bytes()
