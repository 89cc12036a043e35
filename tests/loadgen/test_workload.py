"""Tests for runtime.loadgen.workload: config validation and the seeded conversation stream."""

from __future__ import annotations

import itertools
import statistics
from pathlib import Path

import pytest

from runtime.loadgen.lengths import LengthDist, LengthSpec
from runtime.loadgen.words import WORDS
from runtime.loadgen.workload import Conversation, LoadgenConfig, RequestSpec, Workload

NUM_CONVERSATIONS = 4000


def _take(config: LoadgenConfig, n: int = NUM_CONVERSATIONS) -> list[Conversation]:
    return list(itertools.islice(Workload(config), n))


def test_same_seed_same_stream() -> None:
    """Two workloads from the same config yield identical conversations."""
    config = LoadgenConfig(
        prompt_len=LengthSpec(20, LengthDist.UNIFORM),
        session_share=0.3,
        shared_prefix_share=0.5,
        seed=7,
    )
    assert _take(config, 200) == _take(config, 200)


def test_different_seed_different_prompts() -> None:
    """A different seed gives different prompts."""
    first = _take(LoadgenConfig(seed=1), 20)
    second = _take(LoadgenConfig(seed=2), 20)
    assert [c.turns[0].prompt for c in first] != [c.turns[0].prompt for c in second]


def test_prompts_are_words_from_the_list() -> None:
    """A prompt is `num_words` words of the built-in list, and max_tokens follows output_len."""
    config = LoadgenConfig(prompt_len=LengthSpec(12), output_len=LengthSpec(5))
    for conversation in _take(config, 50):
        (spec,) = conversation.turns
        words = spec.prompt.split(" ")
        assert len(words) == spec.num_words == 12
        assert set(words) <= set(WORDS)
        assert spec.max_tokens == 5


def test_prompt_lengths_follow_the_distribution() -> None:
    """Prompt word counts average to the configured mean."""
    config = LoadgenConfig(prompt_len=LengthSpec(40, LengthDist.EXPONENTIAL))
    counts = [c.turns[0].num_words for c in _take(config)]
    assert statistics.fmean(counts) == pytest.approx(40, rel=0.08)


def test_shared_prefix_share_and_content() -> None:
    """About shared_prefix_share of conversations start with the one prefix, prepended in full."""
    config = LoadgenConfig(prompt_len=LengthSpec(10), shared_prefix_share=0.3, shared_prefix_len=16)
    workload = Workload(config)
    conversations = list(itertools.islice(workload, NUM_CONVERSATIONS))
    shared = [c.turns[0] for c in conversations if c.turns[0].is_shared_prefix]
    assert len(shared) / NUM_CONVERSATIONS == pytest.approx(0.3, abs=0.03)
    assert len(workload.shared_prefix.split(" ")) == 16
    for spec in shared:
        assert spec.prompt.startswith(workload.shared_prefix + " ")
        assert spec.num_words == 16 + 10 == len(spec.prompt.split(" "))


def test_session_share_and_turns() -> None:
    """About session_share of conversations are sessions of session_turns turns; others have one."""
    config = LoadgenConfig(session_share=0.25, session_turns=4)
    conversations = _take(config)
    sessions = [c for c in conversations if c.is_session]
    assert len(sessions) / NUM_CONVERSATIONS == pytest.approx(0.25, abs=0.03)
    assert {len(c.turns) for c in sessions} == {4}
    assert {len(c.turns) for c in conversations if not c.is_session} == {1}


def test_shared_prefix_only_on_a_sessions_first_turn() -> None:
    """In a session with the shared prefix, only the first turn carries it."""
    config = LoadgenConfig(session_share=1.0, shared_prefix_share=1.0, session_turns=3)
    for conversation in _take(config, 20):
        assert [t.is_shared_prefix for t in conversation.turns] == [True, False, False]


def test_conversation_ids_count_up() -> None:
    """Conversations are numbered 0, 1, 2, ... in the order drawn."""
    assert [c.conversation_id for c in _take(LoadgenConfig(), 5)] == [0, 1, 2, 3, 4]


def test_arrival_gaps_average_one_over_rate() -> None:
    """Open-loop arrival gaps are positive and average 1 / request_rate."""
    workload = Workload(LoadgenConfig(request_rate=20.0))
    gaps = [workload.next_arrival_gap_s() for _ in range(NUM_CONVERSATIONS)]
    assert min(gaps) > 0
    assert statistics.fmean(gaps) == pytest.approx(1 / 20.0, rel=0.08)


def test_arrival_gaps_need_a_rate() -> None:
    """Asking a closed-loop workload for arrival gaps raises ValueError."""
    with pytest.raises(ValueError, match="request_rate"):
        Workload(LoadgenConfig()).next_arrival_gap_s()


def test_arrival_gaps_do_not_shift_conversations() -> None:
    """Drawing arrival gaps leaves the conversation stream unchanged."""
    config = LoadgenConfig(request_rate=5.0, seed=3)
    plain, timed = Workload(config), Workload(config)
    for _ in range(10):
        timed.next_arrival_gap_s()
    assert [next(plain) for _ in range(10)] == [next(timed) for _ in range(10)]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"url": "127.0.0.1:8000"}, "url"),
        ({"model": ""}, "model"),
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": None}, "concurrency"),
        ({"request_rate": 0.0}, "request_rate"),
        ({"request_rate": float("inf")}, "request_rate"),
        ({"duration_s": -1.0}, "duration_s"),
        ({"max_requests": 0}, "max_requests"),
        ({"shared_prefix_share": 1.5}, "shared_prefix_share"),
        ({"shared_prefix_share": float("nan")}, "shared_prefix_share"),
        ({"shared_prefix_len": 0}, "shared_prefix_len"),
        ({"session_share": -0.1}, "session_share"),
        ({"session_turns": 0}, "session_turns"),
        ({"timeout_s": 0}, "timeout_s"),
    ],
)
def test_invalid_config_raises(kwargs: dict[str, object], match: str) -> None:
    """Each invalid config value raises ValueError naming its field."""
    with pytest.raises(ValueError, match=match):
        LoadgenConfig(**kwargs)


def test_open_loop_may_leave_concurrency_uncapped() -> None:
    """With a request rate, concurrency None means no cap on requests in flight."""
    config = LoadgenConfig(request_rate=3.0, concurrency=None)
    assert config.is_open_loop and config.concurrency is None


def test_to_dict_redacts_api_key() -> None:
    """The config's JSON form never carries the api key."""
    config = LoadgenConfig(url="http://h:1/", api_key="secret", json_path=Path("x.json"))
    as_dict = config.to_dict()
    assert as_dict["api_key"] == "***"
    assert "secret" not in repr(as_dict)
    assert config.base_url == "http://h:1"


def test_conversation_rejects_multi_turn_non_session() -> None:
    """A conversation that is not a session must have exactly one turn."""
    spec = RequestSpec("a b", 2, 4)
    with pytest.raises(ValueError, match="one turn"):
        Conversation(0, (spec, spec), is_session=False)
