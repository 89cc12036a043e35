"""`poolscope bench mamba --quick`: both strategies on a saturated mamba pool, and the accounting
facts the benchmark rests on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from runtime.bench import mamba_strategies
from runtime.bench.report import BenchResult
from runtime.cli.main import main
from runtime.engine.engine import Engine
from runtime.engine.observer import EngineObserver
from runtime.engine.records import StepRecord
from runtime.memory.memory_config import MambaStrategy
from runtime.model.default_model import write_checkpoint
from runtime.model.loader import LoadedModel, load_model
from runtime.scheduler.sampling_params import SamplingParams


@pytest.fixture(scope="module")
def quick() -> BenchResult:
    return mamba_strategies.run(quick=True)


def _rows(result: BenchResult, workload: str) -> dict[str, dict]:
    return {row["strategy"]: row for row in result.rows if row["workload"] == workload}


def test_quick_run_reports_both_strategies_on_every_workload(quick: BenchResult) -> None:
    """Each workload has one row per strategy, with a running peak and 1 to 3 slots per request."""
    for workload in mamba_strategies.QUICK:
        rows = _rows(quick, workload)
        assert set(rows) == {s.value for s in mamba_strategies.STRATEGIES}
        for row in rows.values():
            assert row["peak running"] >= 1
            assert 1 <= row["slots/running req"] <= 3
            assert 0 <= row["hit rate"] <= 1


def test_quick_run_has_both_targets(quick: BenchResult) -> None:
    """The peak ratio and lazy slots-per-request targets are present with the issue's limits."""
    limits = {(t.op, t.limit) for t in quick.targets}
    assert limits == {(">=", 1.4), ("<=", 2.1)}
    assert all(t.note for t in quick.targets)


def test_extra_buffer_holds_more_slots_per_running_request_than_lazy(quick: BenchResult) -> None:
    """Memory accounting: extra_buffer owns 3 slots per running request, lazy 2 (after a step)."""
    for workload in mamba_strategies.QUICK:
        rows = _rows(quick, workload)
        extra = rows[MambaStrategy.EXTRA_BUFFER.value]["slots/running req"]
        lazy = rows[MambaStrategy.EXTRA_BUFFER_LAZY.value]["slots/running req"]
        assert extra == 3 and lazy == 2


def test_lazy_admits_more_when_boundaries_fall_in_decode(quick: BenchResult) -> None:
    """With prompts inside one track interval, lazy's peak is capacity / 2 against / 3."""
    rows = _rows(quick, "decode-crossing")
    slots = mamba_strategies.QUICK["decode-crossing"].mamba_slots
    assert rows[MambaStrategy.EXTRA_BUFFER.value]["peak running"] == slots // 3
    assert rows[MambaStrategy.EXTRA_BUFFER_LAZY.value]["peak running"] == slots // 2


def test_quick_mamba_bench_writes_json(tmp_path: Path) -> None:
    """The CLI run writes mamba.json with the rows, the targets and the per-seed runs."""
    assert main(["bench", "mamba", "--quick", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "mamba.json").read_text())
    assert data["quick"] is True and len(data["rows"]) == 4 and len(data["targets"]) == 2
    assert set(data["details"]["runs"]) == set(mamba_strategies.QUICK)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LoadedModel]:
    folder = tmp_path_factory.mktemp("mamba-bench") / "tiny-hybrid"
    write_checkpoint(mamba_strategies.TINY_MODEL, mamba_strategies.MODEL_SEED, folder)
    return folder, load_model(folder, device="cpu", dtype=torch.float32)


def _first_wave(tiny_model: tuple[Path, LoadedModel], strategy: MambaStrategy,
                workload: mamba_strategies.Workload) -> tuple[Engine, list, list[int]]:
    folder, lm = tiny_model
    engine = Engine(lm, workload.engine_config(strategy, folder), torch.device("cpu"),
                    torch.float32)
    done, order = mamba_strategies.run_wave(engine, workload.prompts(0), _params(workload))
    return engine, done, order


def _params(workload: mamba_strategies.Workload) -> SamplingParams:
    return SamplingParams(max_tokens=workload.max_tokens, temperature=0.0, ignore_eos=True)


def test_second_wave_continues_each_first_wave_request(tiny_model) -> None:
    """Each second-wave prompt is a first-wave prompt, its generated tokens and a new suffix."""
    workload = mamba_strategies.QUICK["decode-crossing"]
    prompts = workload.prompts(0)
    _, done, order = _first_wave(tiny_model, MambaStrategy.EXTRA_BUFFER, workload)
    assert sorted(order) == list(range(len(prompts)))
    turns = workload.continuations(prompts, [c.token_ids for c in done], seed=0)
    low, high = workload.suffix_len
    for prompt, completion, turn in zip(prompts, done, turns, strict=True):
        assert len(completion.token_ids) == workload.max_tokens
        assert turn[: len(prompt) + workload.max_tokens] == prompt + completion.token_ids
        assert low <= len(turn) - len(prompt) - workload.max_tokens <= high


def test_second_wave_figures_are_the_engines_counts(tiny_model) -> None:
    """Prefill tokens saved are the prefix hits the engine's steps report, prompt tokens the
    continuations' lengths, and states left the mamba states the tree holds after wave 1."""
    workload = mamba_strategies.QUICK["prefill-crossing"]
    for strategy in mamba_strategies.STRATEGIES:
        engine, done, order = _first_wave(tiny_model, strategy, workload)
        states = sum(1 for node in engine.mm.cache.nodes() if node.mamba is not None)
        turns = workload.continuations(workload.prompts(0), [c.token_ids for c in done], 0)
        steps = _CachedTokens()
        engine.observers.append(steps)
        wave = mamba_strategies.second_wave(engine, [turns[i] for i in reversed(order)],
                                            _params(workload), workload.prefix_len)
        assert wave.prompt_tokens == sum(len(t) for t in turns)
        assert wave.prefill_saved == steps.cached > 0
        assert wave.hit_rate == wave.prefill_saved / wave.prompt_tokens
        assert wave.states_left == states > 0
        assert 0 < wave.hits <= len(turns) and wave.own_turn_hits <= wave.hits


class _CachedTokens(EngineObserver):
    def __init__(self) -> None:
        self.cached = 0

    def on_step(self, record: StepRecord) -> None:
        self.cached += record.num_cached_tokens


def test_every_strategy_saves_prefill_on_the_continuations(quick: BenchResult) -> None:
    """Both strategies leave snapshots that the next turns resume from: hit rate and prefill
    tokens saved above 0 on every workload, and the hit rate is saved / prompt tokens."""
    for workload in mamba_strategies.QUICK:
        for row in _rows(quick, workload).values():
            assert row["wave 2 hit rate"] > 0 and row["wave 2 prefill saved"] > 0
            assert row["wave 2 own-turn hits"] > 0  # resumed from its first turn's state
        for runs in quick.details["runs"][workload].values():
            for run in runs:
                wave = run["second_wave"]
                assert wave["hit_rate"] == wave["prefill_saved"] / wave["prompt_tokens"]
