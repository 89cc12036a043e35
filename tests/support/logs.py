"""A fresh structlog and logging set-up around a test that configures logging."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from telemetry.logs.logging import reset_logging


@pytest.fixture
def fresh_logging() -> Iterator[None]:
    """structlog's defaults and none of our handlers before the test, and again after it
    (`configure_logging` in one test must not reach the next)."""
    reset_logging()
    yield
    reset_logging()
