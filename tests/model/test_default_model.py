"""The built-in poolscope_hybrid: seeded, deterministic, every pool kind live, self-consistent."""

from __future__ import annotations

from pathlib import Path

import torch

from runtime.engine.config import EngineConfig
from runtime.engine.engine import Engine
from runtime.model.config import FULL_ATTENTION, MAMBA, SLIDING_ATTENTION
from runtime.model.default_model import (
    DEFAULT_CONFIG,
    DEFAULT_SEED,
    ensure_default_model,
    write_checkpoint,
)
from runtime.model.loader import load_model
from runtime.scheduler.sampling_params import SamplingParams
from tests.model.slot_driver import SlotDriver

PROMPT = "Every pool is visible."


def _greedy(path: Path) -> list[int]:
    engine = Engine.from_config(EngineConfig(model=str(path), chunked_prefill_size=7))
    params = SamplingParams(max_tokens=12, temperature=0, ignore_eos=True)
    return engine.generate([PROMPT], params)[0].token_ids


def test_two_loads_give_identical_weights_and_greedy_output(cache_dir: Path) -> None:
    """Loading the default model twice gives the same weights and the same greedy tokens."""
    path = ensure_default_model()
    assert path.is_relative_to(cache_dir)
    first, second = load_model(path).model.state_dict(), load_model(path).model.state_dict()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert _greedy(path) == _greedy(path)


def test_creation_from_the_seed_is_byte_identical(tmp_path: Path) -> None:
    """Two fresh creations from the fixed seed write byte-identical checkpoints."""
    a, b = tmp_path / "a", tmp_path / "b"
    write_checkpoint(DEFAULT_CONFIG, DEFAULT_SEED, a)
    write_checkpoint(DEFAULT_CONFIG, DEFAULT_SEED, b)
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    assert (a / "config.json").read_text() == (b / "config.json").read_text()


def test_default_model_has_every_pool_kind(cache_dir: Path) -> None:
    """The default mixes Mamba2, sliding-window and full attention so that every pool is live."""
    config = load_model(ensure_default_model()).config
    assert config.model_type == "poolscope_hybrid"
    assert {MAMBA, SLIDING_ATTENTION, FULL_ATTENTION} <= set(config.layer_types)


def test_chunked_prefill_and_decode_match_whole_prefill(cache_dir: Path) -> None:
    """Chunked prefill and one-token decode give the logits of one whole-sequence prefill."""
    lm = load_model(ensure_default_model())
    window = lm.config.attention.sliding_window
    assert window is not None
    ids = torch.randint(0, 256, (2 * window + 30,), generator=torch.Generator().manual_seed(0))
    ids = ids.tolist()
    whole = SlotDriver(lm).step([0], [1], [ids], all_logits=True)
    driver, pieces, start = SlotDriver(lm, seed=3), [], 0
    for size in (13, 64, 1, 40):
        pieces.append(driver.step([1], [5], [ids[start : start + size]], all_logits=True))
        start += size
    while start < len(ids):
        pieces.append(driver.step([1], [5], [ids[start : start + 1]], all_logits=True))
        start += 1
    torch.testing.assert_close(torch.cat(pieces), whole, atol=1e-4, rtol=0)
