"""The decode-step benchmark: host time from timed steps, and both roofline bounds from the
model's own shapes. Structure only, no timing assertions."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from runtime.bench import decode_step
from runtime.bench.checkpoints import MODEL_TYPES, build_checkpoint
from runtime.bench.compute_bound import attention_flops, compute_bound, linear_shapes, mamba_flops
from runtime.bench.report import BenchResult
from runtime.bench.step_timing import StepTimes, time_steps
from runtime.model.loader import load_model


@pytest.fixture(scope="module")
def quick() -> BenchResult:
    return decode_step.run(quick=True)


@pytest.fixture(scope="module")
def nemotron_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_checkpoint("nemotron_h", tmp_path_factory.mktemp("nemotron"), "tiny")


def test_host_time_is_step_minus_model_forward() -> None:
    """Host time is each step's time minus its model call; batch building is forward minus
    model call, so it counts as host."""
    times = StepTimes(step=[0.010, 0.020], forward=[0.007, 0.009], model=[0.006, 0.008])
    assert times.host == pytest.approx([0.004, 0.012])
    assert times.batch_build == pytest.approx([0.001, 0.001])
    ms = times.summary_ms()
    assert ms["host p50 ms"] == pytest.approx(8.0) and ms["step p50 ms"] == pytest.approx(15.0)


def test_timed_steps_come_from_the_real_runner_which_is_restored(nemotron_dir: Path) -> None:
    """Timing real decode steps gives step >= forward >= model call > 0 each step, and the
    runner's forward and model are the originals afterwards."""
    plan = decode_step.QUICK
    engine = decode_step._engine(nemotron_dir, 2, plan)
    model = engine.runner.model
    decode_step._start(engine, 2, plan)
    times = time_steps(engine, 3, batch=2)
    assert len(times.step) == 3
    for step, forward, inner in zip(times.step, times.forward, times.model, strict=True):
        assert step >= forward >= inner > 0
    assert engine.runner.model is model and "forward" not in vars(engine.runner)


def test_benchmark_engines_run_without_text_like_serves_engine_process(nemotron_dir: Path) -> None:
    """The decode and throughput benchmarks build engines with text off, as serve's engine
    process runs (detokenization is the frontend's): their outputs carry ids and no text."""
    from runtime.bench import throughput

    work = throughput.workloads(throughput.QUICK, vocab=512)[0]
    for engine in (decode_step._engine(nemotron_dir, 2, decode_step.QUICK),
                   throughput._engine(nemotron_dir, work)):
        assert engine.config.produce_text is False
        req = engine.add_request([5, 6, 7], decode_step.SamplingParams(max_tokens=2,
                                                                        temperature=0))
        while engine.step():
            pass
        assert len(req.output_ids) == 2 and req.text is None and not req.emits_text


def test_compute_bound_times_every_linear_shape_of_the_model(nemotron_dir: Path) -> None:
    """The compute bound has one timed matmul per distinct linear shape of the model, counted
    once per layer, and its linear FLOPs are 2 * B * in * out over every nn.Linear."""
    lm = load_model(nemotron_dir, device="cpu", dtype=torch.float32)
    layers = [m for m in lm.model.modules() if isinstance(m, nn.Linear)]
    bound = compute_bound(lm.model, lm.config, batch=3, context=20, repeats=2)
    got = {(s.in_features, s.out_features): s.count for s in bound.linears}
    assert got == dict(linear_shapes(lm.model))
    assert sum(got.values()) == len(layers)
    assert (lm.config.hidden_size, lm.config.vocab_size) in got  # the lm head
    assert bound.linear_flops == sum(2 * 3 * m.in_features * m.out_features for m in layers)
    assert all(s.seconds > 0 for s in bound.linears) and bound.limit_step_s > bound.linear_s
    assert bound.mamba_flops == mamba_flops(lm.config, 3) > 0


def test_attention_flops_grow_with_context_up_to_the_window(nemotron_dir: Path) -> None:
    """Full-attention FLOPs are linear in the context and in the batch."""
    config = load_model(nemotron_dir, device="cpu", dtype=torch.float32).config
    assert attention_flops(config, 2, 100) == 2 * attention_flops(config, 2, 50)
    assert attention_flops(config, 4, 50) == 2 * attention_flops(config, 2, 50)


def test_quick_run_reports_both_batches_and_bounds_for_both_models(quick: BenchResult) -> None:
    """Each model has a row per batch with host time, both bounds and the attained fraction of
    the larger one, and targets for host time (larger batch) and roofline (smaller)."""
    assert {(r["model"], r["running"]) for r in quick.rows} == {
        (m, b) for m in MODEL_TYPES for b in decode_step.QUICK.batches}
    for row in quick.rows:
        assert row["step p50 ms"] > 0 and row["forward p50 ms"] > 0
        bound = max(row["memory bound ms"], row["compute bound ms"])
        assert row["attained"] == pytest.approx(bound / row["step p50 ms"])
    small, large = decode_step.QUICK.batches
    names = {t.name for t in quick.targets}
    assert names == {f"{m} host ms per decode step, {large} running" for m in MODEL_TYPES} | {
        f"{m} decode step / roofline (larger bound), batch {small}" for m in MODEL_TYPES}
    for target in quick.targets:
        key = f"{target.name.split()[0]} batch {small if 'roofline' in target.name else large}"
        assert target.is_met or (target.note and quick.details["profiles"][key])
