"""Errors the engine raises for requests it cannot serve as asked; the server maps each type to
an HTTP status, so the engine itself knows nothing about HTTP."""

from __future__ import annotations


class InvalidRequest(ValueError):
    """The request is malformed or cannot fit this engine (400). `param` names the field."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class SessionNotFound(InvalidRequest):
    """No open session has this id (404)."""


class SessionBusy(InvalidRequest):
    """The session already runs a turn (409)."""


class TooManySessions(InvalidRequest):
    """Every session slot is taken (429)."""


class EngineStopped(RuntimeError):
    """The engine loop has stopped (503)."""


class ShuttingDown(EngineStopped):
    """The server is draining for shutdown and takes no new work (503)."""
