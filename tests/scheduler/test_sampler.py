"""Sampler: greedy, seeded draws, top-k/top-p/min-p sets, penalties and logprobs."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.scheduler.sampler import (
    SampledToken,
    Sampler,
    SampleRow,
    apply_penalties,
    make_generator,
)
from runtime.scheduler.sampling_params import GREEDY_TEMPERATURE, SamplingParams

DEVICES = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    return torch.device(request.param)


def _row(
    params: SamplingParams,
    device: torch.device,
    prompt: tuple[int, ...] = (),
    output: tuple[int, ...] = (),
) -> SampleRow:
    generator = None if params.is_greedy else make_generator(params.seed, device)
    return SampleRow(params=params, prompt_ids=prompt, output_ids=output, generator=generator)


def _draws(probs: list[float], params: SamplingParams, device: torch.device, n: int) -> Counter:
    """Token counts of `n` rows that share the logits log(probs), each with its own seed."""
    logits = torch.tensor(probs, device=device).log().expand(n, -1)  # [n, V]
    rows = [_row(replace(params, seed=s), device) for s in range(n)]
    return Counter(t.token_id for t in Sampler().sample(logits, rows))


def test_greedy_rows_take_the_argmax(device: torch.device) -> None:
    """Rows at temperature 0 get the argmax of their logits."""
    logits = torch.randn(6, 50, generator=torch.Generator().manual_seed(0)).to(device)
    rows = [_row(SamplingParams(temperature=0), device) for _ in range(6)]
    tokens = [t.token_id for t in Sampler().sample(logits, rows)]
    assert tokens == logits.argmax(dim=-1).tolist()


def test_top_k_one_equals_greedy(device: torch.device) -> None:
    """top_k=1 picks the argmax even at a high temperature."""
    logits = torch.randn(8, 40, generator=torch.Generator().manual_seed(1)).to(device)
    params = SamplingParams(temperature=2.0, top_k=1, seed=3)
    assert params.is_greedy
    rows = [SampleRow(params, (), (), make_generator(i, device)) for i in range(8)]
    tokens = [t.token_id for t in Sampler().sample(logits, rows)]
    assert tokens == logits.argmax(dim=-1).tolist()


def test_seeded_request_ignores_its_batch_companions(device: torch.device) -> None:
    """A seeded row draws the same tokens alone as beside other sampled and greedy rows."""
    params = SamplingParams(temperature=1.0, top_p=0.9, seed=1234)
    steps = [torch.randn(1, 64, generator=torch.Generator().manual_seed(s)) for s in range(20)]

    def run(with_companions: bool) -> list[int]:
        target = _row(params, device)
        tokens = []
        for step in steps:
            rows, logits = [target], [step]
            if with_companions:
                rows += [
                    _row(SamplingParams(seed=9), device),
                    _row(SamplingParams(temperature=0), device),
                ]
                logits += [torch.randn(2, 64)]
            out = Sampler().sample(torch.cat(logits).to(device), rows)
            tokens.append(out[0].token_id)
        return tokens

    alone = run(with_companions=False)
    assert alone == run(with_companions=True)
    assert len(set(alone)) > 1


def test_same_seed_gives_the_same_tokens(device: torch.device) -> None:
    """Two generators from the same seed draw identically; differently seeded ones diverge."""
    logits = torch.zeros(1, 1000, device=device)
    params = SamplingParams()

    def draws(seed: int) -> list[int]:
        row = SampleRow(params, (), (), make_generator(seed, device))
        return [Sampler().sample(logits, [row])[0].token_id for _ in range(10)]

    assert draws(5) == draws(5)
    assert draws(5) != draws(6)


def test_draws_follow_the_softmax(device: torch.device) -> None:
    """Without filters, token frequencies over many draws match the probabilities."""
    probs = [0.5, 0.3, 0.15, 0.05]
    counts = _draws(probs, SamplingParams(), device, 4000)
    for token, p in enumerate(probs):
        assert counts[token] / 4000 == pytest.approx(p, abs=0.03)


def test_top_k_stays_in_the_k_largest(device: torch.device) -> None:
    """top_k=3 only ever picks the three most likely tokens, and does pick each."""
    probs = [0.05, 0.2, 0.1, 0.3, 0.05, 0.25, 0.05]
    counts = _draws(probs, SamplingParams(top_k=3), device, 2000)
    assert set(counts) == {1, 3, 5}


def test_top_p_stays_in_the_nucleus(device: torch.device) -> None:
    """top_p=0.7 over (0.5, 0.3, 0.15, 0.05), shuffled in the vocab, keeps only the top two."""
    probs = [0.15, 0.5, 0.05, 0.3]
    counts = _draws(probs, SamplingParams(top_p=0.7), device, 2000)
    assert set(counts) == {1, 3}


def test_min_p_drops_tokens_under_the_threshold(device: torch.device) -> None:
    """min_p=0.2 with top probability 0.5 drops tokens under 0.1."""
    probs = [0.05, 0.3, 0.5, 0.15]
    counts = _draws(probs, SamplingParams(min_p=0.2), device, 2000)
    assert set(counts) == {1, 2, 3}


def test_top_p_applies_to_the_top_k_renormalized(device: torch.device) -> None:
    """top_k=2 renormalizes (0.4, 0.3) to (4/7, 3/7), so top_p=0.5 keeps only the first."""
    probs = [0.4, 0.3, 0.2, 0.1]
    assert set(_draws(probs, SamplingParams(top_p=0.5), device, 500)) == {0, 1}
    assert set(_draws(probs, SamplingParams(top_k=2, top_p=0.5), device, 500)) == {0}


def test_repetition_penalty_scales_seen_tokens(device: torch.device) -> None:
    """Seen tokens (prompt or output) have positive logits divided and negative multiplied."""
    raw = torch.tensor([[2.0, -1.0, 0.5, -0.5, 1.0]], device=device)
    row = _row(SamplingParams(repetition_penalty=2.0), device, prompt=(0, 1), output=(2, 3))
    expected = torch.tensor([[1.0, -2.0, 0.25, -1.0, 1.0]], device=device)
    assert torch.equal(apply_penalties(raw, [row]), expected)


def test_frequency_and_presence_count_output_tokens_only(device: torch.device) -> None:
    """logit -= freq * count + pres * (count > 0), counting output tokens and not the prompt."""
    raw = torch.tensor([[2.0, -1.0, 0.5, -0.5, 1.0]], device=device)
    params = SamplingParams(frequency_penalty=0.5, presence_penalty=0.25)
    row = _row(params, device, prompt=(0, 1, 2), output=(2, 2, 3))
    expected = torch.tensor([[2.0, -1.0, 0.5 - 1.0 - 0.25, -0.5 - 0.5 - 0.25, 1.0]], device=device)
    assert torch.allclose(apply_penalties(raw, [row]), expected)


def test_penalties_compose_repetition_first(device: torch.device) -> None:
    """All three penalties apply, repetition before frequency/presence, to their own row only."""
    raw = torch.tensor([[2.0, -1.0, 0.5, -0.5, 1.0]] * 2, device=device)
    params = SamplingParams(repetition_penalty=2.0, frequency_penalty=0.5, presence_penalty=0.25)
    rows = [_row(SamplingParams(), device), _row(params, device, (0, 1), (2, 2, 3))]
    out = apply_penalties(raw, rows)
    expected = torch.tensor([1.0, -2.0, 0.25 - 1.25, -1.0 - 0.75, 1.0], device=device)
    assert torch.allclose(out[1], expected)
    assert torch.equal(out[0], raw[0])
    assert raw[1, 0].item() == 2.0


def test_penalty_changes_the_greedy_choice(device: torch.device) -> None:
    """A repeated output token loses the argmax to the runner-up under a presence penalty."""
    logits = torch.tensor([[0.0, 1.0, 1.5, 0.0]], device=device)
    params = SamplingParams(temperature=0, presence_penalty=1.0)
    out = Sampler().sample(logits, [_row(params, device, output=(2,))])
    assert out[0].token_id == 1


def test_logprobs_describe_the_raw_logits(device: torch.device) -> None:
    """logprob and top_logprobs come from log_softmax of the raw logits, not the penalized ones."""
    logits = torch.randn(3, 30, generator=torch.Generator().manual_seed(2)).to(device)
    rows = [
        _row(SamplingParams(temperature=0.7, logprobs=3, repetition_penalty=1.5), device, (4,)),
        _row(SamplingParams(temperature=0, logprobs=0), device),
        _row(SamplingParams(temperature=0), device),
    ]
    out = Sampler().sample(logits, rows)
    reference = torch.log_softmax(logits.float(), dim=-1).cpu()  # [3, 30]
    top_values, top_ids = reference[0].topk(3)
    assert out[0].logprob == pytest.approx(reference[0, out[0].token_id].item(), abs=1e-5)
    assert [t for t, _ in out[0].top_logprobs] == top_ids.tolist()
    assert [v for _, v in out[0].top_logprobs] == pytest.approx(top_values.tolist(), abs=1e-5)
    assert out[1].logprob == pytest.approx(reference[1].max().item(), abs=1e-5)
    assert out[1].top_logprobs == ()
    assert out[2] == SampledToken(token_id=out[2].token_id, logprob=None, top_logprobs=())


def test_low_precision_logits_are_not_modified(device: torch.device) -> None:
    """bf16 logits are accepted and left unchanged by penalties."""
    logits = torch.randn(2, 16, generator=torch.Generator().manual_seed(4)).to(device)
    logits = logits.to(torch.bfloat16)
    before = logits.clone()
    params = SamplingParams(repetition_penalty=1.3, frequency_penalty=1.0, seed=1)
    rows = [_row(params, device, (1, 2), (3,)), _row(SamplingParams(temperature=0), device)]
    out = Sampler().sample(logits, rows)
    assert torch.equal(logits, before)
    assert all(0 <= t.token_id < 16 for t in out)


def test_mismatched_batch_is_refused() -> None:
    """A logits batch of another size than the rows raises ValueError."""
    rows = [_row(SamplingParams(temperature=0), torch.device("cpu"))]
    with pytest.raises(ValueError, match="do not match 1 rows"):
        Sampler().sample(torch.zeros(2, 8), rows)


def test_sampled_row_without_generator_is_refused() -> None:
    """A non-greedy row with no generator raises ValueError."""
    row = SampleRow(SamplingParams(), (), (), None)
    with pytest.raises(ValueError, match="no generator"):
        Sampler().sample(torch.zeros(1, 8), [row])


@settings(max_examples=200, deadline=None)
@given(
    temperature=st.floats(min_value=0.0, max_value=1.7e308, allow_nan=False, allow_infinity=False),
    filters=st.sampled_from([{}, {"top_p": 0.9}, {"top_k": 3}, {"min_p": 0.05}]),
    seed=st.integers(0, 2**32),
)
def test_any_temperature_samples_a_real_token_and_tiny_ones_the_argmax(
    temperature: float, filters: dict, seed: int
) -> None:
    """Over the whole float range of temperatures (tiny ones such as 1e-45 and 1e-300
    included) the draw never meets NaN: it picks a token of the vocabulary, and the argmax
    (never a fixed token 0) whenever the temperature is small against the logit gap."""
    logits = torch.tensor([[0.5, -1.0, 3.0, 2.0, -4.0, 1.0]])  # argmax 2, gap 1.0
    params = SamplingParams(temperature=temperature, seed=seed, **filters)
    row = SampleRow(params, (), (), make_generator(seed, torch.device("cpu")))
    token = Sampler().sample(logits, [row])[0].token_id
    assert 0 <= token < logits.shape[1]
    if temperature < 1e-2:
        assert token == 2


@pytest.mark.parametrize("temperature", [1e-45, 1e-300, 5e-324, 1e-6])
def test_temperatures_below_the_epsilon_are_greedy(temperature: float) -> None:
    """Positive temperatures below GREEDY_TEMPERATURE count as greedy (documented), so such a
    request needs no generator and always takes the argmax."""
    params = SamplingParams(temperature=temperature)
    assert temperature < GREEDY_TEMPERATURE and params.is_greedy
    logits = torch.tensor([[0.0, 1.0, 5.0, 2.0]])
    assert Sampler().sample(logits, [SampleRow(params, (), (), None)])[0].token_id == 2
