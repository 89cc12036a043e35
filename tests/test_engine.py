"""The engine's offline API: continuous batching, chunked prefill, sampling, stops, checker."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from runtime.engine.engine import Engine
from runtime.errors import InvalidRequest
from runtime.memory.checker import LeakDetected
from runtime.model.loader import LoadedModel, load_model
from runtime.scheduler.request import FinishReason
from runtime.scheduler.sampling_params import SamplingParams
from tests.model.slot_driver import SlotDriver
from tests.server.harness import assert_memory_clean
from tests.support.engines import strict_engine

GREEDY = SamplingParams(max_tokens=10, temperature=0, ignore_eos=True)


def _engine(model: Path, **overrides: object) -> Engine:
    return strict_engine(model, **overrides)


def _naive_greedy(lm: LoadedModel, prompt: list[int], steps: int) -> list[int]:
    """Oracle: re-run the whole sequence from scratch for every new token."""
    ids, out = list(prompt), []
    for _ in range(steps):
        token = int(SlotDriver(lm).step([0], [1], [ids])[0].argmax())
        ids.append(token)
        out.append(token)
    return out


def test_batched_chunked_greedy_equals_recompute_from_scratch(nemotron_h_dir: Path) -> None:
    """Greedy tokens of a chunked, continuously batched run equal full recomputation, and
    every slot is free or cached afterwards (busy checks after each step found nothing)."""
    prompts = [[5, 9, 200, 31, 7, 7, 1, 300, 2, 4, 11], [42, 43], list(range(60, 100))]
    engine = _engine(nemotron_h_dir, chunked_prefill_size=6)
    results = engine.generate(prompts, GREEDY)
    lm = load_model(nemotron_h_dir)
    assert [r.token_ids for r in results] == [_naive_greedy(lm, p, 10) for p in prompts]
    assert all(r.finish_reason is FinishReason.LENGTH for r in results)
    assert_memory_clean(engine)


def test_an_injected_fault_is_caught_by_the_checker(nemotron_h_dir: Path) -> None:
    """kv_double_free: the second of two identical requests frees its duplicate pages twice;
    the check after that step raises (on_leak=raise)."""
    engine = _engine(nemotron_h_dir, faults=frozenset({"kv_double_free"}))
    engine.generate([[1, 2, 3]], SamplingParams(max_tokens=4, temperature=0, ignore_eos=True))
    with pytest.raises(LeakDetected, match="double_free"):
        engine.generate([[1, 2, 3]], SamplingParams(max_tokens=4, temperature=0, ignore_eos=True))


def test_seeded_sampling_is_reproducible(nemotron_h_dir: Path) -> None:
    """The same seed at temperature 1 gives the same tokens, alone or beside other requests."""
    engine = _engine(nemotron_h_dir)
    params = SamplingParams(max_tokens=8, temperature=1.0, seed=7, ignore_eos=True)
    alone = engine.generate([[3, 1, 4, 1, 5]], params)[0].token_ids
    together = engine.generate([[9, 9], [3, 1, 4, 1, 5]], params)[1].token_ids
    other = engine.generate([[3, 1, 4, 1, 5]], SamplingParams(max_tokens=8, seed=8))[0]
    assert alone == together
    assert other.token_ids != alone


def test_stop_rules_end_requests(nemotron_h_dir: Path) -> None:
    """EOS, a stop token id and max_tokens each end a request with the right reason."""
    engine = _engine(nemotron_h_dir)
    free = engine.generate([[8, 8, 8]], SamplingParams(max_tokens=3, temperature=0,
                                                       ignore_eos=True))[0].token_ids
    engine.lm.tokenizer._eos_token_ids = (free[1],)  # the second greedy token becomes EOS
    by_eos = engine.generate([[8, 8, 8]], SamplingParams(max_tokens=3, temperature=0))[0]
    assert (by_eos.token_ids, by_eos.finish_reason) == (free[:2], FinishReason.STOP)
    stop_ids = SamplingParams(max_tokens=3, temperature=0, stop_token_ids=(free[0],),
                              ignore_eos=True)
    by_id = engine.generate([[8, 8, 8]], stop_ids)[0]
    assert (by_id.token_ids, by_id.finish_reason) == (free[:1], FinishReason.STOP)


def test_a_stop_string_cuts_the_text(tmp_path: Path, nemotron_h_dir: Path) -> None:
    """A stop string ends the request; the text ends right before it."""
    engine = _engine(nemotron_h_dir)
    ids = engine.generate([[65, 66, 67]], SamplingParams(max_tokens=6, temperature=0,
                                                         ignore_eos=True))[0].token_ids
    printable = [i for i in range(65, 91)]
    engine.lm.tokenizer.decode = lambda xs: "".join(  # type: ignore[method-assign]
        chr(printable[i % 26]) for i in xs
    )
    text = engine.lm.tokenizer.decode(ids)
    stop = text[3:5]
    params = SamplingParams(max_tokens=6, temperature=0, ignore_eos=True, stop=(stop,))
    result = engine.generate([[65, 66, 67]], params)[0]
    assert result.finish_reason is FinishReason.STOP
    assert result.text == text[: text.index(stop)]


@pytest.mark.parametrize(
    ("prompt", "params", "match"),
    [
        ([], GREEDY, "empty"),
        ([1] * 4090, GREEDY, "maximum context length is 4096"),
        ([1] * 5000, GREEDY, "the prompt has 5000 tokens"),
        ([600], GREEDY, "outside the vocabulary"),
    ],
)
def test_bad_requests_raise_clear_errors(
    nemotron_h_dir: Path, prompt: list[int], params: SamplingParams, match: str
) -> None:
    """An empty prompt, one that cannot fit the context, or unknown ids are refused."""
    with pytest.raises(InvalidRequest, match=match):
        _engine(nemotron_h_dir).add_request(prompt, params)


def test_a_model_without_attention_generates(tmp_path: Path) -> None:
    """A Mamba-only checkpoint (no KV pools at all) prefills in chunks and decodes to its limit."""
    from transformers import NemotronHConfig, NemotronHForCausalLM

    from tests.checkpoints import tiny_hf_config

    raw = tiny_hf_config("nemotron_h").to_dict()
    raw["layers_block_type"] = ["linear_attention", "mlp", "linear_attention", "mlp"]
    torch.manual_seed(0)
    NemotronHForCausalLM(NemotronHConfig(**raw)).save_pretrained(tmp_path)
    engine = _engine(tmp_path, chunked_prefill_size=4)
    assert engine.lm.config.num_full_layers == engine.lm.config.num_swa_layers == 0
    params = SamplingParams(max_tokens=5, temperature=0, ignore_eos=True)
    result = engine.generate([[1, 2, 3, 4, 5, 6, 7]], params)[0]
    assert result.token_ids == _naive_greedy(engine.lm, [1, 2, 3, 4, 5, 6, 7], 5)
