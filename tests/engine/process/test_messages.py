"""The wire format between the frontend and the engine process, and its errors."""

from __future__ import annotations

import msgspec
import pytest

from runtime.engine.process import messages as m
from runtime.engine.process.remote_errors import raise_remote
from runtime.engine.records import (
    FinishedRecord,
    IdleRecord,
    LeakRecord,
    SessionRecord,
    StepRecord,
)
from runtime.errors import (
    EngineStopped,
    InvalidRequest,
    SessionBusy,
    SessionNotFound,
    ShuttingDown,
    TooManySessions,
)
from runtime.scheduler.request import AbortCode, FinishReason
from runtime.scheduler.sampler import SampledToken
from runtime.scheduler.sampling_params import SamplingParams
from tests.engine.record_samples import ONE_OF_EACH, SNAPSHOT, STATS

SUMMARY = m.EngineSummary(STATS, num_finished=3, leak_counts={"full/leak": 1},
                          leaked_slots={"full": 0, "mamba": 0})
_WRAPPERS = {StepRecord: m.StepRecordMsg, IdleRecord: m.IdleRecordMsg,
             FinishedRecord: m.FinishedRecordMsg, SessionRecord: m.SessionRecordMsg,
             LeakRecord: m.LeakRecordMsg}
RECORDS = [_WRAPPERS[type(record)](record) for record in ONE_OF_EACH]
COMMANDS = [
    m.AddRequest(1, "cmpl-1", [1, 2, 3], SamplingParams(max_tokens=4, stop=("x",), seed=7), "s"),
    m.Abort("cmpl-1"), m.AbortAll(2, "bye", AbortCode.SHUTTING_DOWN), m.OpenSession(3),
    m.CloseSession(4, "sess-1"), m.RoomLeft(5, 10, None), m.Inspect(6, True), m.Shutdown(),
]
EVENTS = [
    m.Ready(7, "/models/x", None, (2,), 256, 4096, ("full", "mamba"), SUMMARY, SNAPSHOT, 1),
    m.Reply(1, None, m.RemoteError("SessionBusy", "busy", "session_id")), m.Reply(3, "sess-1"),
    m.StepOutputs([m.Output("cmpl-1", (5,), (SampledToken(5, -0.5, ((5, -0.5), (6, -1.0))),),
                            FinishReason.LENGTH, None, None, 3, 1, 0)]),
    m.Stopped(SUMMARY, "LeakDetected: memory invariant broken"), m.Stopped(None, "no model"),
    m.StepOutputs([], RECORDS),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: type(c).__name__)
def test_every_command_round_trips(command: object) -> None:
    """Each command decodes from its msgpack bytes to an equal command of the same type."""
    codec = m.command_codec()
    assert codec.decode(codec.encode(command)) == command


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_round_trips(event: object) -> None:
    """Each event decodes from its msgpack bytes to an equal event of the same type."""
    codec = m.event_codec()
    assert codec.decode(codec.encode(event)) == event


def test_every_record_keeps_its_type_in_one_list() -> None:
    """A step's records of all five kinds decode, in order, to records of their own types."""
    codec = m.event_codec()
    decoded = codec.decode(codec.encode(m.StepOutputs([], RECORDS)))
    assert [type(r.record) for r in decoded.records] == [type(r.record) for r in RECORDS]


def test_decoded_sampling_params_are_validated_again() -> None:
    """A command carrying out-of-range sampling parameters fails to decode, naming the field."""
    codec = m.command_codec()
    data = codec.encode(m.AddRequest(1, "r", [1], SamplingParams()))
    bad = data.replace(b"\xabtemperature\xcb?\xf0\x00\x00\x00\x00\x00\x00",
                       b"\xabtemperature\xcb\xbf\xf0\x00\x00\x00\x00\x00\x00")  # 1.0 -> -1.0
    assert bad != data
    with pytest.raises(msgspec.ValidationError, match="temperature must be"):
        codec.decode(bad)


@pytest.mark.parametrize(
    "error",
    [InvalidRequest("too long", "prompt"), SessionNotFound("gone", "session_id"),
     SessionBusy("busy", "session_id"), TooManySessions("full", None), EngineStopped("dead"),
     ShuttingDown("draining"), ValueError("id in use")],
    ids=lambda e: type(e).__name__,
)
def test_engine_errors_come_back_as_their_own_type(error: Exception) -> None:
    """An error raised in the engine process is raised again as the same type, message and
    param, so the routes answer the same status."""
    remote = m.RemoteError(type(error).__name__, str(error), getattr(error, "param", None))
    back = raise_remote(remote)
    assert type(back) is type(error) and str(back) == str(error)
    assert getattr(back, "param", None) == getattr(error, "param", None)


def test_an_unknown_error_type_is_a_runtime_error_naming_it() -> None:
    """A type the frontend does not know (a bug in the engine) becomes a RuntimeError with its
    type name in the message."""
    back = raise_remote(m.RemoteError("KeyError", "'x'"))
    assert type(back) is RuntimeError and "KeyError" in str(back)
