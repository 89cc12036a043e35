"""Everything the frontend and the engine process say to each other, as msgspec Structs.

Commands go parent → child on one socket, events child → parent on another, each a tagged union
encoded as msgpack. A command with a `call_id` other than 0 is answered by one `Reply` with the
same id; `AddRequest` is a call too, so a validation error reaches the route that sent it.
"""

from __future__ import annotations

from typing import Any

import msgspec

from runtime.engine.records import (
    EngineSnapshot,
    FinishedRecord,
    IdleRecord,
    LeakRecord,
    SessionRecord,
    StepRecord,
)
from runtime.scheduler.request import AbortCode, FinishReason
from runtime.scheduler.sampler import SampledToken
from runtime.scheduler.sampling_params import SamplingParams
from telemetry.pool_stats import PoolStats

# -- parent → child ----------------------------------------------------------------------------


class AddRequest(msgspec.Struct, tag=True):
    call_id: int
    rid: str
    prompt_ids: list[int]
    params: SamplingParams
    session_id: str | None = None
    # the frontend's time.monotonic() when the request reached it, so that TTFT and e2e latency
    # include tokenization and this hop. NOTE: on Linux time.monotonic() is CLOCK_MONOTONIC,
    # one clock for the whole machine, so the engine process can compare it with its own.
    # None: the engine's receipt is the arrival.
    arrival: float | None = None


class Abort(msgspec.Struct, tag=True):
    """Frees a request whose client went away; no reply."""

    rid: str


class AbortAll(msgspec.Struct, tag=True):
    call_id: int
    error: str
    code: AbortCode


class OpenSession(msgspec.Struct, tag=True):
    call_id: int


class CloseSession(msgspec.Struct, tag=True):
    call_id: int
    sid: str


class RoomLeft(msgspec.Struct, tag=True):
    call_id: int
    num_prompt: int
    session_id: str | None = None


class Inspect(msgspec.Struct, tag=True):
    """Asks for an `EngineSummary` (tests, benchmarks); `run_check` first runs the idle
    identity check on every pool."""

    call_id: int
    run_check: bool = False


class Shutdown(msgspec.Struct, tag=True):
    """Stop the loop; the child answers with `Stopped` and exits 0."""


Command = AddRequest | Abort | AbortAll | OpenSession | CloseSession | RoomLeft | Inspect | Shutdown

# -- child → parent ----------------------------------------------------------------------------


class EngineSummary(msgspec.Struct):
    """The engine's cumulative state, as the server's stopped event and tests read it."""

    stats: PoolStats
    num_finished: int = 0
    num_cached_tokens: int = 0
    num_retracted: int = 0
    num_out_of_memory: int = 0
    num_queue_timeouts: int = 0
    num_session_evictions: int = 0
    num_requests: int = 0  # queued or running now
    num_running: int = 0
    num_sessions: int = 0
    is_idle: bool = True
    leak_counts: dict[str, int] = {}  # "pool/kind" -> failed checks
    check_counts: dict[str, int] = {}  # "pool/mode" -> checks run
    leaked_slots: dict[str, int] = {}  # pool -> signed difference at the last check
    num_check_failures: int = 0  # pools failing the check `Inspect(run_check=True)` ran


class Ready(msgspec.Struct, tag=True):
    """The handshake: what the frontend needs to serve this engine."""

    pid: int
    model_dir: str
    bos_token_id: int | None
    eos_token_ids: tuple[int, ...]
    vocab_size: int
    max_context: int
    cache_pools: tuple[str, ...]
    summary: EngineSummary
    snapshot: EngineSnapshot  # what the gauges show until the first record
    torch_threads: int  # intra-op threads the engine runs with


class RemoteError(msgspec.Struct):
    """An exception raised in the child, to be raised again in the parent."""

    kind: str
    message: str
    param: str | None = None


class Reply(msgspec.Struct, tag=True):
    call_id: int
    value: Any = None
    error: RemoteError | None = None


class Output(msgspec.Struct, array_like=True):
    """What one step added to one request: token ids (text is the frontend's job)."""

    rid: str
    token_ids: tuple[int, ...]
    logprobs: tuple[SampledToken, ...] = ()
    finish_reason: FinishReason | None = None
    error: str | None = None
    error_code: AbortCode | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0


# The engine's observer records (records.py, frozen dataclasses), each in a tagged envelope so
# that one list holds them all and decodes to the right type.


class StepRecordMsg(msgspec.Struct, tag="step"):
    record: StepRecord


class IdleRecordMsg(msgspec.Struct, tag="idle"):
    record: IdleRecord


class FinishedRecordMsg(msgspec.Struct, tag="finished"):
    record: FinishedRecord


class SessionRecordMsg(msgspec.Struct, tag="session"):
    record: SessionRecord


class LeakRecordMsg(msgspec.Struct, tag="leaks"):
    record: LeakRecord


RecordMsg = StepRecordMsg | IdleRecordMsg | FinishedRecordMsg | SessionRecordMsg | LeakRecordMsg


class StepOutputs(msgspec.Struct, tag=True):
    """Sent once per step (or per batch of commands): outputs and observer records, in the
    engine's order."""

    outputs: list[Output]
    records: list[RecordMsg] = []


class Stopped(msgspec.Struct, tag=True):
    """The loop ended on request (`Shutdown`) or after an error (`error` set): the last word."""

    summary: EngineSummary | None  # None when the engine never loaded
    error: str | None = None


Event = Ready | Reply | StepOutputs | Stopped


class Codec:
    """One encoder and the decoder for one direction (msgspec reuses their buffers)."""

    def __init__(self, kind: Any) -> None:
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(kind)

    def encode(self, message: Any) -> bytes:
        return self._encoder.encode(message)

    def decode(self, data: bytes) -> Any:
        return self._decoder.decode(data)


def command_codec() -> Codec:
    return Codec(Command)


def event_codec() -> Codec:
    return Codec(Event)
