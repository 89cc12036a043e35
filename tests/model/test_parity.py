"""fp32 logits of poolscope's model code against transformers on the same tiny random weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from runtime.model import batch_parts
from runtime.model.batch_parts import split_points
from runtime.model.loader import LoadedModel, load_model
from tests.checkpoints import VOCAB, WINDOW
from tests.model.slot_driver import SlotDriver

ATOL = 1e-4
PROMPT_LENS = [37, 52, 61]  # all longer than the sliding window
DECODE_STEPS = 40


@pytest.fixture(params=["nemotron_h", "gemma3_text"])
def pair(request: pytest.FixtureRequest) -> tuple[LoadedModel, torch.nn.Module]:
    """(poolscope model, transformers model) loaded from the same saved checkpoint."""
    from transformers import AutoModelForCausalLM

    path: Path = request.getfixturevalue(
        "nemotron_h_dir" if request.param == "nemotron_h" else "gemma3_dir"
    )
    ref = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    return load_model(path), ref


def _tokens(n: int, seed: int) -> list[int]:
    return torch.randint(0, VOCAB, (n,), generator=torch.Generator().manual_seed(seed)).tolist()


@torch.no_grad()
def _ref_logits(ref: torch.nn.Module, ids: list[int]) -> torch.Tensor:
    return ref(torch.tensor([ids])).logits[0].float()


def test_whole_prompt_prefill_matches(pair: tuple[LoadedModel, torch.nn.Module]) -> None:
    """A whole prompt in one extend gives transformers' logits at every position."""
    lm, ref = pair
    ids = _tokens(70, seed=1)
    assert len(ids) > WINDOW
    ours = SlotDriver(lm).step([0], [3], [ids], all_logits=True)
    torch.testing.assert_close(ours, _ref_logits(ref, ids), atol=ATOL, rtol=0)


def test_uneven_chunked_prefill_matches(pair: tuple[LoadedModel, torch.nn.Module]) -> None:
    """The same prompt in uneven chunks (state and KV kept in the pools) gives the same logits."""
    lm, ref = pair
    ids = _tokens(70, seed=2)
    driver, pieces, start = SlotDriver(lm, seed=5), [], 0
    for size in (5, 17, 1, 30, 9, 8):
        pieces.append(driver.step([2], [6], [ids[start : start + size]], all_logits=True))
        start += size
    assert start == len(ids)
    torch.testing.assert_close(torch.cat(pieces), _ref_logits(ref, ids), atol=ATOL, rtol=0)


@torch.no_grad()
def _ref_decode(ref: torch.nn.Module, prompt: list[int], forced: list[int]) -> torch.Tensor:
    """transformers' own cached decode loop, one token at a time with explicit position_ids."""
    out = ref(torch.tensor([prompt]), position_ids=torch.arange(len(prompt))[None], use_cache=True)
    cache, logits = out.past_key_values, [out.logits[0, -1]]
    for step, token in enumerate(forced[:-1]):
        pos = torch.tensor([[len(prompt) + step]])
        out = ref(torch.tensor([[token]]), past_key_values=cache, position_ids=pos, use_cache=True)
        cache = out.past_key_values
        logits.append(out.logits[0, -1])
    return torch.stack(logits).float()


@pytest.mark.parametrize("mamba_slots", [[9, 2, 13], [3, 6, 9]], ids=["scattered", "strided-run"])
def test_batched_decode_in_scattered_slots_matches(
    pair: tuple[LoadedModel, torch.nn.Module], mamba_slots: list[int]
) -> None:
    """Three requests of different lengths, prefilled together and decoded step by step for 40 steps
    with KV in interleaved non-contiguous slots, match transformers per request. Mamba state is in
    scattered slots (gathered and scattered) or in a run 3, 6, 9 (read and written in place)."""
    lm, ref = pair
    prompts = [_tokens(n, seed=10 + i) for i, n in enumerate(PROMPT_LENS)]
    forced = [_tokens(DECODE_STEPS, seed=20 + i) for i in range(3)]
    rows = [4, 1, 6]
    driver = SlotDriver(lm, seed=7)
    steps = [driver.step(rows, mamba_slots, prompts)]  # [3, V] at each prompt's last token
    for t in range(DECODE_STEPS - 1):
        steps.append(driver.step(rows, mamba_slots, [[f[t]] for f in forced]))
    ours = torch.stack(steps, dim=1)  # [3, 40, V]
    for i in range(3):
        torch.testing.assert_close(
            ours[i], _ref_decode(ref, prompts[i], forced[i]), atol=ATOL, rtol=0
        )


def test_decode_of_very_different_contexts_run_in_key_groups_matches(
    pair: tuple[LoadedModel, torch.nn.Module], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decoding requests whose contexts differ widely runs attention in groups of similar key
    length (each padded to its own longest, rows scattered back) and matches transformers."""
    monkeypatch.setattr(batch_parts, "MIN_KEYS_SAVED", 1)
    lm, ref = pair
    prompts = [_tokens(n, seed=30 + i) for i, n in enumerate((3, 90, 20, 88))]
    forced = [_tokens(8, seed=40 + i) for i in range(4)]
    driver, rows, slots = SlotDriver(lm, seed=3), [0, 1, 2, 3], [9, 2, 13, 5]
    steps = [driver.step(rows, slots, prompts)]
    for t in range(7):
        steps.append(driver.step(rows, slots, [[f[t]] for f in forced]))
    assert batch_parts.key_groups([len(p) + 7 for p in prompts]) is not None
    ours = torch.stack(steps, dim=1)
    for i in range(4):
        torch.testing.assert_close(ours[i], _ref_decode(ref, prompts[i], forced[i]), atol=ATOL,
                                   rtol=0)


def test_swa_slots_that_left_the_window_are_never_read(gemma3_dir: Path) -> None:
    """Freeing sliding-window slots that left the window (row entry 0, KV poisoned with NaN)
    changes no logit: attention reads only q - W < k <= q."""
    lm = load_model(gemma3_dir)
    prompt, forced = _tokens(50, seed=30), _tokens(12, seed=31)
    kept, freed = SlotDriver(lm, seed=1), SlotDriver(lm, seed=1)
    want = [kept.step([0], [1], [prompt])]
    got = [freed.step([0], [1], [prompt])]
    table, kv = freed.pools.req_to_token.tables["swa"], freed.pools.kv["swa"]
    for token in forced:
        first_visible = freed.lengths[0] - WINDOW + 1  # the next query is at position lengths[0]
        gone = table[0, :first_visible]
        gone = gone[gone != 0]  # already freed; slot 0 is the shared padding row
        kv.k[:, gone], kv.v[:, gone] = float("nan"), float("nan")
        table[0, :first_visible] = 0
        want.append(kept.step([0], [1], [[token]]))
        got.append(freed.step([0], [1], [[token]]))
    torch.testing.assert_close(torch.cat(got), torch.cat(want), atol=0, rtol=0)
    assert torch.isnan(kv.k).any()  # the poison really is in the pool


def test_ragged_extend_run_part_by_part_matches(pair: tuple[LoadedModel, torch.nn.Module]) -> None:
    """One extend step holding very different chunk lengths, one of them after a prefix, runs
    part by part (each padded only to its own longest) and gives each request transformers'
    logits."""
    lm, ref = pair
    prompts = [_tokens(66, 11), _tokens(3, 12), _tokens(40, 13), _tokens(9, 14)]
    driver = SlotDriver(lm, seed=7)
    driver.step([2], [9], [prompts[2][:25]])
    chunks = [prompts[0], prompts[1], prompts[2][25:], prompts[3]]
    assert len(split_points([len(c) for c in chunks])) > 1
    ours = driver.step([0, 1, 2, 3], [4, 5, 9, 7], chunks, all_logits=True)
    want = torch.cat([_ref_logits(ref, p)[-len(c):] for p, c in zip(prompts, chunks, strict=True)])
    torch.testing.assert_close(ours, want, atol=ATOL, rtol=0)
