"""The FastAPI application: routes, error handlers, API key and body limit.

app = create_app(state, ServerSettings(api_key="secret"))
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from runtime.server.completion_routes import router as completion_router
from runtime.server.errors import install_error_handlers
from runtime.server.middleware import APIKeyMiddleware, BodyLimitMiddleware
from runtime.server.misc_routes import router as misc_router
from runtime.server.openapi import install_openapi
from runtime.server.state import ServerState


@dataclass(frozen=True)
class ServerSettings:
    """Where the server listens and what it lets in. Loopback unless widened on purpose."""

    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    max_body_bytes: int = 1 << 20
    drain_timeout_s: float = 30.0  # on shutdown, how long running requests may still finish

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")
        if self.max_body_bytes < 1024:
            raise ValueError(f"max_body_bytes must be >= 1024, got {self.max_body_bytes}")
        if not 0 <= self.drain_timeout_s <= 3600:
            raise ValueError(f"drain_timeout_s must be in [0, 3600], got {self.drain_timeout_s}")
        if self.api_key is not None and not self.api_key:
            raise ValueError("api_key must not be empty")


def create_app(state: ServerState, settings: ServerSettings) -> FastAPI:
    app = FastAPI(title="poolscope", docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    install_openapi(app)
    app.state.poolscope = state
    install_error_handlers(app)
    app.include_router(completion_router)
    app.include_router(misc_router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.api_key:
        app.add_middleware(APIKeyMiddleware, api_key=settings.api_key)
    return app
