"""The engine in its own process: the child's loop (`core`), the parent's `EngineClient`, and
the messages between them."""

from runtime.engine.process.client import EngineClient, EngineStartError

__all__ = ["EngineClient", "EngineStartError"]
