"""SamplingParams: OpenAI defaults, range checks naming the field, derived flags."""

from __future__ import annotations

import pytest

from runtime.scheduler.sampling_params import SamplingParams


def test_defaults_are_plain_sampling() -> None:
    """The defaults sample at temperature 1 for 16 tokens with no filters or penalties."""
    params = SamplingParams()
    assert (params.max_tokens, params.temperature, params.top_p, params.top_k) == (16, 1.0, 1.0, -1)
    assert not params.is_greedy and not params.needs_penalties
    assert params.logprobs is None and params.stop == ()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_tokens", 0),
        ("max_tokens", True),
        ("temperature", -0.1),
        ("temperature", float("nan")),
        ("temperature", float("inf")),
        ("top_p", 0.0),
        ("top_p", 1.5),
        ("top_k", 0),
        ("top_k", -2),
        ("min_p", -0.1),
        ("min_p", 1.1),
        ("seed", -1),
        ("seed", 1 << 64),
        ("stop", ("",)),
        ("stop", ["a"]),
        ("stop", tuple(f"s{i}" for i in range(17))),
        ("stop_token_ids", (-1,)),
        ("ignore_eos", 1),
        ("repetition_penalty", 0.0),
        ("frequency_penalty", 2.5),
        ("presence_penalty", -2.5),
        ("logprobs", -1),
        ("logprobs", 21),
    ],
)
def test_out_of_range_field_is_refused(field: str, value: object) -> None:
    """Each out-of-range value raises ValueError naming its field and the value."""
    with pytest.raises(ValueError, match=f"^{field} must be .*, got ") as info:
        SamplingParams(**{field: value})  # type: ignore[arg-type]
    assert repr(value)[:20] in str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"temperature": 0.0, "top_p": 1.0, "top_k": 1, "min_p": 1.0},
        {"seed": 0, "stop": tuple("abcdefghijklmnop"), "stop_token_ids": (0, 7)},
        {"frequency_penalty": -2.0, "presence_penalty": 2.0, "logprobs": 20},
        {"logprobs": 0, "repetition_penalty": 0.5, "ignore_eos": True},
    ],
)
def test_boundary_values_are_accepted(kwargs: dict[str, object]) -> None:
    """Values on the edges of each range construct without error."""
    params = SamplingParams(**kwargs)  # type: ignore[arg-type]
    assert all(getattr(params, name) == value for name, value in kwargs.items())


@pytest.mark.parametrize(
    ("kwargs", "is_greedy"),
    [({"temperature": 0.0}, True), ({"top_k": 1}, True), ({"temperature": 0.5}, False)],
)
def test_is_greedy(kwargs: dict[str, float], is_greedy: bool) -> None:
    """Temperature 0 or top_k 1 makes a request greedy; anything else samples."""
    assert SamplingParams(**kwargs).is_greedy is is_greedy  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [{"repetition_penalty": 1.1}, {"frequency_penalty": 0.1}, {"presence_penalty": -0.1}],
)
def test_any_penalty_needs_penalties(kwargs: dict[str, float]) -> None:
    """Any penalty away from its neutral value sets needs_penalties."""
    assert SamplingParams(**kwargs).needs_penalties  # type: ignore[arg-type]
