"""Errors raised in the engine process, raised again in the frontend as the same types, so the
routes answer the same status codes as with an in-process engine."""

from __future__ import annotations

from runtime.engine.process.messages import RemoteError
from runtime.errors import (
    EngineStopped,
    InvalidRequest,
    SessionBusy,
    SessionNotFound,
    ShuttingDown,
    TooManySessions,
)

_PARAM_TYPES: dict[str, type[InvalidRequest]] = {
    cls.__name__: cls for cls in (InvalidRequest, SessionNotFound, SessionBusy, TooManySessions)
}
_PLAIN_TYPES: dict[str, type[Exception]] = {
    cls.__name__: cls for cls in (EngineStopped, ShuttingDown, ValueError)
}


def raise_remote(error: RemoteError) -> Exception:
    """The exception to raise for `error`; a type not known here becomes a RuntimeError."""
    if error.kind in _PARAM_TYPES:
        return _PARAM_TYPES[error.kind](error.message, error.param)
    kind = _PLAIN_TYPES.get(error.kind)
    if kind is not None:
        return kind(error.message)
    return RuntimeError(f"{error.kind}: {error.message}")
