"""The interim offline generator: chunked prefill plus batched decode, greedy and sampled."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from runtime.generate import GenerationParams, Generator, MemoryOptions
from runtime.memory.checker import CheckMode, LeakDetected
from runtime.memory.memory_config import LeakPolicy
from runtime.model.loader import LoadedModel, load_model
from tests.model.slot_driver import SlotDriver


@pytest.fixture
def lm(nemotron_h_dir: Path) -> LoadedModel:
    return load_model(nemotron_h_dir)


def _naive_greedy(lm: LoadedModel, prompt: list[int], steps: int) -> list[int]:
    """Oracle: re-run the whole sequence from scratch for every new token."""
    ids, out = list(prompt), []
    for _ in range(steps):
        token = int(SlotDriver(lm).step([0], [1], [ids])[0].argmax())
        ids.append(token)
        out.append(token)
    return out


def test_batched_greedy_equals_recompute_from_scratch(lm: LoadedModel) -> None:
    """Greedy tokens of a chunked, batched run equal full recomputation per request."""
    prompts = [[5, 9, 200, 31, 7, 7, 1, 300, 2, 4, 11], [42, 43], list(range(60, 100))]
    params = GenerationParams(max_new_tokens=10, chunk_size=6, ignore_eos=True)
    result = Generator(lm, torch.device("cpu"), torch.float32).generate(prompts, params)
    assert result.outputs == [_naive_greedy(lm, p, 10) for p in prompts]
    assert result.num_generated == 30


def test_every_slot_is_freed_after_generation(lm: LoadedModel) -> None:
    """When all requests finish, every slot is free or held only by the prefix cache, and the
    checker (busy mode: after every step too) found nothing."""
    memory = MemoryOptions(check_mode=CheckMode.BUSY, on_leak=LeakPolicy.RAISE)
    gen = Generator(lm, torch.device("cpu"), torch.float32, memory)
    gen.generate([[1, 2, 3], [4, 5]], GenerationParams(max_new_tokens=4, ignore_eos=True))
    for part in gen.mm.stats().pools.values():
        assert part.available + part.evictable == part.capacity
    assert not gen.mm.leak_counts


def test_an_injected_fault_is_caught_by_the_checker(lm: LoadedModel) -> None:
    """kv_double_free: the second of two identical requests frees its 6 duplicate pages (the
    first cached them) twice; the idle check says so."""
    memory = MemoryOptions(on_leak=LeakPolicy.RAISE, faults=frozenset({"kv_double_free"}))
    gen = Generator(lm, torch.device("cpu"), torch.float32, memory)
    with pytest.raises(LeakDetected, match="double_free"):
        gen.generate([[1, 2, 3]] * 2, GenerationParams(max_new_tokens=4, ignore_eos=True))


def test_sampling_is_reproducible_from_the_seed(lm: LoadedModel) -> None:
    """The same seed at temperature 1 gives the same tokens; greedy ignores the seed."""
    gen = Generator(lm, torch.device("cpu"), torch.float32)

    def run(seed: int, temperature: float) -> list[list[int]]:
        params = GenerationParams(
            max_new_tokens=8, temperature=temperature, seed=seed, ignore_eos=True
        )
        return gen.generate([[3, 1, 4, 1, 5]], params).outputs

    assert run(7, 1.0) == run(7, 1.0)
    assert run(1, 0.0) == run(2, 0.0)


def test_eos_stops_a_request_early(lm: LoadedModel) -> None:
    """A request that samples an EOS id stops there; others run to their limit."""
    gen = Generator(lm, torch.device("cpu"), torch.float32)
    first = gen.generate([[8, 8, 8]], GenerationParams(max_new_tokens=3, ignore_eos=True)).outputs[
        0
    ]
    lm.tokenizer._eos_token_ids = (first[0],)  # make the first greedy token an EOS
    result = gen.generate([[8, 8, 8]], GenerationParams(max_new_tokens=3))
    assert result.outputs == [[first[0]]]


@pytest.mark.parametrize(
    ("prompts", "params", "match"),
    [
        ([[]], GenerationParams(), "empty"),
        ([[1] * 4090], GenerationParams(max_new_tokens=10), "exceeds the model context"),
    ],
)
def test_bad_requests_raise_clear_errors(
    lm: LoadedModel, prompts: list[list[int]], params: GenerationParams, match: str
) -> None:
    """An empty prompt or one that cannot fit the context is refused with a clear message."""
    with pytest.raises(ValueError, match=match):
        Generator(lm, torch.device("cpu"), torch.float32).generate(prompts, params)


def test_invalid_params_are_refused() -> None:
    """max_new_tokens < 1 or negative temperature is a ValueError at construction."""
    with pytest.raises(ValueError, match="max_new_tokens"):
        GenerationParams(max_new_tokens=0)
    with pytest.raises(ValueError, match="temperature"):
        GenerationParams(temperature=-1)


def test_a_model_without_attention_generates(tmp_path: Path) -> None:
    """A Mamba-only checkpoint (no KV pools at all) prefills in chunks and decodes to its limit."""
    from transformers import NemotronHConfig, NemotronHForCausalLM

    from tests.checkpoints import tiny_hf_config

    raw = tiny_hf_config("nemotron_h").to_dict()
    raw["layers_block_type"] = ["linear_attention", "mlp", "linear_attention", "mlp"]
    torch.manual_seed(0)
    NemotronHForCausalLM(NemotronHConfig(**raw)).save_pretrained(tmp_path)
    mamba_only = load_model(tmp_path)
    assert mamba_only.config.num_full_layers == mamba_only.config.num_swa_layers == 0
    params = GenerationParams(max_new_tokens=5, chunk_size=4, ignore_eos=True)
    result = Generator(mamba_only, torch.device("cpu"), torch.float32).generate(
        [[1, 2, 3, 4, 5, 6, 7]], params
    )
    assert result.outputs[0] == _naive_greedy(mamba_only, [1, 2, 3, 4, 5, 6, 7], 5)
