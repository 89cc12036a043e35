"""An engine with text off: token ids only, stop-string watchers only where asked, the same
finish decisions as with text on; and torch's threads set when the engine is built."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from runtime.engine.args import add_engine_args, config_from_args
from runtime.engine.config import EngineConfig
from runtime.engine.engine import Engine
from runtime.engine.threads import available_cores
from runtime.memory.checker import CheckMode
from runtime.memory.memory_config import LeakPolicy
from runtime.scheduler.request import RequestOutput
from runtime.scheduler.sampling_params import SamplingParams

_LETTERS = [chr(c) for c in range(65, 91)]


def _engine(model: Path, produce_text: bool) -> Engine:
    config = EngineConfig(model=str(model), mem_check=CheckMode.BUSY, on_leak=LeakPolicy.RAISE,
                          produce_text=produce_text)
    engine = Engine.from_config(config)
    # Every id decodes to one letter, so stop strings drawn from one run's text do occur.
    engine.lm.tokenizer.decode = lambda xs: "".join(  # type: ignore[method-assign]
        _LETTERS[i % 26] for i in xs
    )
    return engine


def _run(engine: Engine, prompts: list[list[int]], params: list[SamplingParams]
         ) -> tuple[list[list[RequestOutput]], list[bool]]:
    """Every request's outputs, and whether it got a text stream."""
    outs: list[list[RequestOutput]] = [[] for _ in prompts]
    reqs = [engine.add_request(p, q, sink=outs[i].append)
            for i, (p, q) in enumerate(zip(prompts, params, strict=True))]
    while engine.step():
        pass
    return outs, [r.text is not None for r in reqs]


def test_text_off_keeps_finish_decisions(nemotron_h_dir: Path) -> None:
    """Greedy and seeded requests with and without stop strings end at the same token with the
    same reason with text off; their outputs carry ids and no text, and only requests with stop
    strings get a watcher."""
    prompts = [[65, 66, 67], [70, 71], [72, 73, 74, 75], [80], [81, 82]]
    base = [SamplingParams(max_tokens=12, temperature=0, ignore_eos=True),
            SamplingParams(max_tokens=12, temperature=1.0, seed=3, ignore_eos=True)]
    on = _engine(nemotron_h_dir, produce_text=True)
    first, _ = _run(on, prompts[:2], base)
    texts = ["".join(o.text for o in outs) for outs in first]
    params = [replace(base[0], stop=(texts[0][4:6],)), replace(base[1], stop=(texts[1][5:8],)),
              replace(base[0], stop=("never",)), base[1], replace(base[0], max_tokens=5)]
    with_text, watched_on = _run(on, prompts, params)
    without_text, watched_off = _run(_engine(nemotron_h_dir, produce_text=False), prompts, params)
    for a, b in zip(with_text, without_text, strict=True):
        assert [o.token_ids for o in a] == [o.token_ids for o in b]
        assert a[-1].finish_reason == b[-1].finish_reason
        assert all(o.text == "" for o in b)
    assert [outs[-1].finish_reason.value for outs in with_text][:2] == ["stop", "stop"]
    assert with_text[0][-1].completion_tokens < 12 and any(o.text for o in with_text[0])
    assert watched_on == [True] * 5 and watched_off == [True, True, True, False, False]


def test_torch_threads_are_set_when_the_engine_is_built(nemotron_h_dir: Path) -> None:
    """--torch-threads sets torch's intra-op threads; without it the engine takes the
    physical cores this process may use."""
    before = torch.get_num_threads()
    try:
        parser = argparse.ArgumentParser()
        add_engine_args(parser)
        config = config_from_args(parser.parse_args(["--model", str(nemotron_h_dir),
                                                     "--torch-threads", "1"]))
        engine = Engine.from_config(config)
        assert torch.get_num_threads() == engine.torch_threads.intra_op == 1
        engine = Engine.from_config(EngineConfig(model=str(nemotron_h_dir)))
        assert torch.get_num_threads() == available_cores()
        assert not engine.torch_threads.requested
    finally:
        torch.set_num_threads(before)


def test_available_cores_counts_hyperthread_siblings_once(tmp_path: Path) -> None:
    """CPUs that share a core count once; an unreadable topology counts CPUs."""
    for cpu, core in [(0, 0), (1, 0), (2, 1), (3, 1), (4, 2)]:
        base = tmp_path / f"cpu{cpu}" / "topology"
        base.mkdir(parents=True)
        (base / "physical_package_id").write_text("0\n")
        (base / "core_id").write_text(f"{core}\n")
    assert available_cores({0, 1, 2, 3}, tmp_path) == 2
    assert available_cores({0, 2, 4}, tmp_path) == 3
    assert available_cores({7, 8}, tmp_path) == 2


def test_torch_threads_below_one_are_refused() -> None:
    """torch_threads=0 raises ValueError."""
    with pytest.raises(ValueError, match="torch_threads"):
        EngineConfig(torch_threads=0)
