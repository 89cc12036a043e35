"""Reading a real Prometheus that a test started: instant queries, firing alerts."""

from __future__ import annotations

import httpx

from tests.support.polling import wait_until


def query(prom: str, expr: str, at: float | None = None) -> list[dict]:
    """The instant vector `expr` evaluates to now, or at the Unix time `at` (fails the test on
    a query error)."""
    params = {"query": expr} | ({"time": f"{at:.3f}"} if at is not None else {})
    answer = httpx.get(f"{prom}/api/v1/query", params=params, timeout=10).json()
    assert answer["status"] == "success", (expr, answer)
    return answer["data"]["result"]


def firing(prom: str) -> list[dict]:
    """The alerts firing now (not pending)."""
    alerts = httpx.get(f"{prom}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    return [a for a in alerts if a["state"] == "firing"]


def wait_for_series(prom: str, expr: str, timeout: float = 60.0) -> list[dict]:
    """Polls until `expr` returns at least one series, and returns them."""
    found: list[dict] = []

    def has_series() -> bool:
        found[:] = query(prom, expr)
        return bool(found)

    wait_until(has_series, timeout, interval=0.5, what=f"a series for {expr}")
    return found
