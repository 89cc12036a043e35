"""What the routes share: the engine, the served model's name and tokenizer, the chat template,
and the registry /metrics serves."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from prometheus_client import CollectorRegistry

from runtime.engine.serving import ServingEngine
from runtime.model.tokenizer import Tokenizer
from runtime.server.chat_template import ChatTemplate
from runtime.server.errors import APIError


@dataclass
class ServerState:
    engine: ServingEngine
    model_name: str
    tokenizer: Tokenizer
    chat_template: ChatTemplate
    max_context: int
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    created: int = 0

    def check_model(self, model: str | None) -> None:
        """A request may omit the model or name this one; any other name is a 404."""
        if model is not None and model != self.model_name:
            message = f"model {model!r} does not exist; this server serves {self.model_name!r}"
            raise APIError(404, message, param="model", code="model_not_found")


def server_state(request: Request) -> ServerState:
    return request.app.state.poolscope
