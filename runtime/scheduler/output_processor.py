"""After a step: append each sampled token, apply the stop rules, build the output delta."""

from __future__ import annotations

from runtime.scheduler.request import FinishReason, Request, RequestOutput
from runtime.scheduler.sampler import SampledToken


def append_token(req: Request, sampled: SampledToken, eos_ids: tuple[int, ...]) -> str:
    """Adds one token to the request and decides whether it finished (`req.finish_reason`): a
    stop token id or EOS (unless ignore_eos), a stop string, max_tokens, or the engine's context
    limit. Returns the new text ("" with text off). The text stream, when the request has one,
    decodes only a short window per token."""
    token, params, stream = sampled.token_id, req.params, req.text
    req.output_ids.append(token)
    req.mem.tokens.append(token)
    if params.logprobs is not None:
        req.logprobs.append(sampled)
    reason, text = None, ""
    if token in params.stop_token_ids or (token in eos_ids and not params.ignore_eos):
        reason = FinishReason.STOP
    elif stream is not None:
        text = stream.push(token)
        if stream.stopped:
            reason = FinishReason.STOP
    if reason is None and (
        len(req.output_ids) >= params.max_tokens or len(req.mem.tokens) >= req.max_context
    ):
        reason = FinishReason.LENGTH
    if reason is not None:
        req.finish_reason = reason
        if stream is not None and not stream.stopped:
            text += stream.finish()
    return text if req.emits_text else ""


def token_output(req: Request, sampled: SampledToken, text: str) -> RequestOutput:
    """The delta a step's token adds (built only for requests with a sink)."""
    logprobs = (sampled,) if req.params.logprobs is not None else ()
    return output_of(req, text, (sampled.token_id,), logprobs)


def output_of(
    req: Request,
    text: str,
    token_ids: tuple[int, ...] = (),
    logprobs: tuple[SampledToken, ...] = (),
) -> RequestOutput:
    return RequestOutput(
        rid=req.rid, text=text, token_ids=token_ids, logprobs=logprobs,
        finish_reason=req.finish_reason, error=req.error, error_code=req.error_code,
        prompt_tokens=req.prompt_len,
        completion_tokens=len(req.output_ids), cached_tokens=req.cached_tokens,
    )
