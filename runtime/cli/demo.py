"""`poolscope generate --demo FAULT`: one command that makes a memory fault point fire on the
built-in default model (or any model given with --model), and shows what the checker counted.

A fault point only fires on the workload that reaches its code path: a KV double free needs a
request whose pages are already cached, a session fault needs a session, a skipped SWA free a
sequence longer than the window. Each demo here turns its fault on, sets what the path needs
(the check mode, pool sizes) and drives the engine through that workload, offline.

poolscope generate --demo session_close_leaks_mamba     # exit 3: a leak was counted
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.engine.config import EngineConfig
    from runtime.engine.engine import Engine
    from runtime.scheduler.request import Request
    from runtime.scheduler.sampling_params import SamplingParams

PROMPT = "Hybrid models keep several memory pools at once:"
MAX_STEPS = 5000  # a bound, never reached by these workloads: a demo must end


@dataclass(frozen=True)
class Demo:
    """What the demo's workload does, the engine settings it needs, and the workload."""

    workload: str
    run: Callable[[Engine], None]
    settings: dict[str, object] = field(default_factory=dict)


def _params(max_tokens: int = 8) -> SamplingParams:
    from runtime.scheduler.sampling_params import SamplingParams

    return SamplingParams(max_tokens=max_tokens, ignore_eos=True)


def _drive(engine: Engine, reqs: list[Request]) -> None:
    """Steps until `reqs` are done, then once more: the step that finds nothing checks at idle."""
    for _ in range(MAX_STEPS):
        if all(r.is_finished for r in reqs) or not engine.step():
            break
    engine.step()


def _turn(engine: Engine, sid: str, prompt: str) -> None:
    _drive(engine, [engine.add_request(prompt, _params(), session_id=sid)])


def _twice(engine: Engine) -> None:
    engine.generate([PROMPT, PROMPT], _params())


def _long(engine: Engine) -> None:
    window = engine.lm.config.attention.sliding_window or 64
    engine.generate([PROMPT], _params(max_tokens=2 * window))


def _close_then_serve(engine: Engine) -> None:
    sid = engine.open_session()
    _turn(engine, sid, PROMPT)
    engine.close_session(sid)
    engine.generate(["next"], _params())  # the next idle point checks the pools


def _two_turns(engine: Engine) -> None:
    sid = engine.open_session()
    _turn(engine, sid, PROMPT)
    _turn(engine, sid, " and one more turn")
    engine.close_session(sid)


def _turn_waits_for_room(engine: Engine) -> None:
    sid = engine.open_session()
    _turn(engine, sid, PROMPT)
    other = engine.add_request(PROMPT, _params(max_tokens=30))
    engine.step()  # the other request now holds KV, so the next turn cannot be admitted yet
    second = engine.add_request(PROMPT * 2, _params(), session_id=sid)
    _drive(engine, [other, second])
    engine.close_session(sid)


DEMOS: dict[str, Demo] = {
    "kv_double_free": Demo("the same prompt twice: the second request's KV duplicates cached "
                           "pages, which it gives back at the end", _twice),
    "swa_skip_free": Demo("one request twice as long as the sliding window, so its first "
                          "tokens leave the window", _long),
    "session_close_leaks_mamba": Demo("a session with one turn is closed; the next request "
                                      "reaches an idle check", _close_then_serve),
    "session_double_count": Demo("a session's second turn runs on its lent slot, with the "
                                 "checker after every step", _two_turns,
                                 {"mem_check": "busy"}),
    "session_mamba_revert_free": Demo("a session's second turn arrives while another request "
                                      "holds the KV it needs: admission turns it down, reverts, "
                                      "and admits it later", _turn_waits_for_room,
                                      {"full_tokens": 160, "swa_tokens": 160}),
}


def demo_config(args: argparse.Namespace, name: str) -> EngineConfig:
    """The EngineConfig from the flags, with the fault on and the demo's settings applied."""
    from dataclasses import replace

    from runtime.engine.args import config_from_args
    from runtime.memory.checker import CheckMode

    config = config_from_args(args)
    settings = dict(DEMOS[name].settings)
    if "mem_check" in settings:
        settings["mem_check"] = CheckMode(settings["mem_check"])
    return replace(config, faults=config.faults | {name}, **settings)


def run_demo(engine: Engine, name: str) -> None:
    """Prints what the demo does, then runs its workload on `engine`."""
    from runtime.memory.faults import FAULT_POINTS

    demo = DEMOS[name]
    print(f"demo {name}: {FAULT_POINTS[name]}")
    print(f"workload: {demo.workload}")
    demo.run(engine)
