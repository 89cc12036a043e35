"""An engine as the engine and scheduler tests build it: the busy checker raising on any leak."""

from __future__ import annotations

from pathlib import Path

from runtime.engine.config import EngineConfig
from runtime.engine.engine import Engine
from runtime.memory.checker import CheckMode
from runtime.memory.memory_config import LeakPolicy


def strict_engine(model: Path, **overrides: object) -> Engine:
    """Loads `model` with `mem_check=busy` and `on_leak=raise` unless `overrides` say otherwise."""
    settings = {"mem_check": CheckMode.BUSY, "on_leak": LeakPolicy.RAISE, **overrides}
    return Engine.from_config(EngineConfig(model=str(model), **settings))  # type: ignore[arg-type]
