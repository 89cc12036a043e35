"""Schemathesis over the server's own /openapi.json: generated bodies (valid and invalid) on
every route never give a 5xx, every reply but a stream or /metrics is JSON, and every status is
one the schema lists. Bounded: a few dozen examples per operation, tiny max_tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    status_code_conformance,
)

from tests.server.harness import served

pytestmark = pytest.mark.slow

MAX_TOKENS = 4
EXAMPLES_PER_OPERATION = 25  # per generation mode


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.checkpoints import build_hf_checkpoint

    model_dir = build_hf_checkpoint("nemotron_h", tmp_path_factory.mktemp("nemotron_h"))
    # A short context bounds chat requests that leave max_tokens out.
    with served(model_dir, max_context=64, max_sessions=4, queue_timeout_s=30.0) as s:
        yield schemathesis.openapi.from_url(f"{s.url}/openapi.json")


def _bound(case: schemathesis.Case) -> None:
    """Keeps generated requests cheap: any positive max_tokens is capped."""
    if not isinstance(case.body, dict):
        return
    for field in ("max_tokens", "max_completion_tokens"):
        value = case.body.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_TOKENS:
            case.body[field] = MAX_TOKENS


def _check(case: schemathesis.Case) -> None:
    _bound(case)
    response = case.call(timeout=120)
    case.validate_response(
        response, checks=(not_a_server_error, status_code_conformance, content_type_conformance)
    )
    kind = (response.headers.get("content-type") or [""])[0]
    if case.path != "/metrics" and not kind.startswith("text/event-stream"):
        body = response.json()
        if response.status_code >= 400:
            assert set(body["error"]) == {"message", "type", "param", "code"}


def test_no_generated_request_gets_a_5xx_and_every_reply_is_json(api_schema: object) -> None:
    """Whatever body schemathesis builds for a route, the answer is no 5xx, a status the schema
    documents, and JSON (an OpenAI-style error for a 4xx) unless it is a stream or /metrics."""
    operations = [result.ok() for result in api_schema.get_all_operations()]  # type: ignore[attr-defined]
    assert len(operations) >= 7
    for operation in operations:
        for mode in schemathesis.GenerationMode:  # valid bodies, then invalid ones

            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case: schemathesis.Case) -> None:
                _check(case)

            try:
                fuzz()
            except Unsatisfiable:  # nothing to make invalid (no body, no parameters)
                assert mode is schemathesis.GenerationMode.NEGATIVE
