"""The frontend's text, made from the engine's token ids, equals the engine's own text."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.engine.config import EngineConfig
from runtime.engine.engine import Engine
from runtime.engine.process.detokenizer import Detokenizer
from runtime.scheduler.request import FinishReason
from runtime.scheduler.sampling_params import SamplingParams


@pytest.fixture(scope="module")
def engine(nemotron_h_dir: Path) -> Engine:
    return Engine.from_config(EngineConfig(model=str(nemotron_h_dir)))


def _cases(engine: Engine) -> list[SamplingParams]:
    """Greedy runs cut by length, by a stop string seen in the free run, by a stop id, by EOS."""
    free = engine.generate([[65, 66, 67]], SamplingParams(max_tokens=12, temperature=0,
                                                          ignore_eos=True))[0]
    text, ids = free.text, free.token_ids
    stop = text[len(text) // 2: len(text) // 2 + 2] or "\x00"
    eos = engine.lm.tokenizer.eos_token_ids
    return [
        SamplingParams(max_tokens=12, temperature=0, ignore_eos=True),
        SamplingParams(max_tokens=12, temperature=0, ignore_eos=True, stop=(stop, "zz")),
        SamplingParams(max_tokens=12, temperature=0, ignore_eos=True, stop_token_ids=(ids[5],)),
        SamplingParams(max_tokens=12, temperature=0, ignore_eos=not eos),
        SamplingParams(max_tokens=12, temperature=0.9, seed=3, stop=(stop,)),
    ]


def test_frontend_text_equals_the_engine_text(engine: Engine) -> None:
    """For runs ended by length, a stop string, a stop id, or sampled with a stop string, the
    deltas the frontend makes from the token ids, one step at a time, join to the engine's
    text, and the last delta carries the held-back rest."""
    for params in _cases(engine):
        result = engine.generate([[65, 66, 67]], params)[0]
        detok = Detokenizer(engine.lm.tokenizer, params)
        *steps, last = result.token_ids
        text = "".join(detok.delta((t,), None) for t in steps)
        text += detok.delta((last,), result.finish_reason)
        assert text == result.text, params
    assert result.finish_reason in (FinishReason.STOP, FinishReason.LENGTH)


def test_an_abort_flushes_nothing(engine: Engine) -> None:
    """An aborted request's last delta adds no text (the engine's abort output has none)."""
    detok = Detokenizer(engine.lm.tokenizer, SamplingParams(stop=("abcdef",)))
    detok.delta((ord("a") + 0,), None)
    assert detok.delta((), FinishReason.ABORT) == ""
