"""Random request lifecycles against the memory layer: the checker's identity must hold after
every operation (busy mode) and at every idle point, for every strategy and pool mix."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from runtime.memory.checker import CheckMode
from runtime.memory.holdings import ReqMemory
from runtime.memory.manager import MemoryManager
from runtime.memory.memory_config import (
    HostTierConfig,
    LeakPolicy,
    MambaStrategy,
    MemoryConfig,
)
from tests.memory.driver import prefilled, start, step

TOKENS = st.lists(st.integers(0, 2), min_size=1, max_size=24)


class Lifecycles(RuleBasedStateMachine):
    """Requests and sessions come and go over tiny pools; `on_leak=raise` fails on any leak."""

    @initialize(
        strategy=st.sampled_from(list(MambaStrategy)),
        page=st.sampled_from([1, 2, 4]),
        window=st.sampled_from([None, 3, 8]),
        mamba=st.booleans(),
        chunk=st.integers(1, 9),
        host=st.booleans(),
    )
    def setup(
        self,
        strategy: MambaStrategy,
        page: int,
        window: int | None,
        mamba: bool,
        chunk: int,
        host: bool,
    ) -> None:
        if strategy is MambaStrategy.NO_BUFFER:
            page = 1
        self.mm = MemoryManager(MemoryConfig(
            full_slots=96 * page, swa_slots=(48 * page) if window else 0,
            mamba_slots=14 if mamba else 0, req_rows=6, page_size=page, window=window,
            mamba_strategy=strategy, track_interval=2 * page, max_context=128,
            host_slots=96 * page if host else 0,
            host_tier=HostTierConfig(sink_tokens=2, recent_tokens=page, top_k_pages=1)
            if host else None,
            check_mode=CheckMode.BUSY, on_leak=LeakPolicy.RAISE,
        ))
        self.chunk, self.count = chunk, 0
        self.reqs: list[ReqMemory] = []

    def _rid(self) -> str:
        self.count += 1
        return f"r{self.count}"

    @rule(tokens=TOKENS)
    def arrive(self, tokens: list[int]) -> None:
        req = start(self.mm, self._rid(), tokens, self.chunk)
        if req is not None:
            self.reqs.append(req)

    @precondition(lambda self: self.reqs)
    @rule(
        i=st.integers(0, 99), token=st.integers(0, 2), cache=st.booleans(), times=st.integers(1, 4)
    )
    def forward(self, i: int, token: int, cache: bool, times: int) -> None:
        req = self.reqs[i % len(self.reqs)]
        for _ in range(times):
            was_prefilling = not prefilled(req)
            if not step(self.mm, req, self.chunk, token):
                self._drop(req, self.mm.retract)  # decode OOM: retract it
                return
            if cache and was_prefilling:
                self.mm.cache_unfinished(req)

    @precondition(lambda self: self.reqs)
    @rule(i=st.integers(0, 99), how=st.sampled_from(["finish", "finish", "abort", "retract"]))
    def end(self, i: int, how: str) -> None:
        req = self.reqs[i % len(self.reqs)]
        if how == "finish":
            if not prefilled(req):
                return
            req.tokens.append(1)
        self._drop(req, getattr(self.mm, how))

    def _drop(self, req: ReqMemory, how: object) -> None:
        how(req)  # type: ignore[operator]
        self.reqs.remove(req)

    @rule(tokens=TOKENS)
    def turned_down(self, tokens: list[int]) -> None:
        """The admission loop stops before this request: it is matched, then reverted."""
        req = ReqMemory(self._rid(), tokens)
        self.mm.match(req)
        self.mm.revert(req)

    @rule(sid=st.integers(0, 2), new=TOKENS, admitted=st.booleans())
    def session_turn(self, sid: int, new: list[int], admitted: bool) -> None:
        slot = self.mm.sessions.get(f"s{sid}") or self.mm.open_session(f"s{sid}")
        if slot.lent_to is not None:
            return
        if not admitted:
            turn = ReqMemory(self._rid(), slot.key + new, slot)
            self.mm.match(turn)
            self.mm.revert(turn)
            return
        req = start(self.mm, self._rid(), slot.key + new, self.chunk, session=slot)
        if req is not None:
            self.reqs.append(req)

    @rule()
    def evict_idle_session(self) -> None:
        """Memory pressure hands the least recently used idle session's memory to the cache."""
        slot = min((s for s in self.mm.sessions.values() if s.lent_to is None and not s.is_empty),
                   key=lambda s: s.idle_since, default=None)
        eviction = self.mm.evict_idle_session(0.0)
        assert (eviction is None) == (slot is None)
        if slot is not None:
            assert eviction is not None and eviction.sid == slot.sid and slot.is_empty

    @precondition(lambda self: not self.mm.running)
    @rule(tokens=st.lists(st.integers(0, 2), min_size=30, max_size=40))  # SWA pool: 48+
    def arrive_alone(self, tokens: list[int]) -> None:
        """With nothing running, a long prompt that fits the empty pools (admitted whole, as
        one chunk) is admitted once idle sessions have given up their memory: it never needs
        to be aborted for memory."""
        req = start(self.mm, self._rid(), tokens, len(tokens))
        while req is None and self.mm.evict_idle_session(0.0) is not None:
            req = start(self.mm, self._rid(), tokens, len(tokens))
        assert req is not None
        self.reqs.append(req)

    @rule(sid=st.integers(0, 8))  # most draws name no open session: sessions live a while
    def close(self, sid: int) -> None:
        if f"s{sid}" in self.mm.sessions:
            self.mm.close_session(f"s{sid}")

    @rule(component=st.sampled_from(["full", "host", "swa", "mamba"]), n=st.integers(0, 20))
    def evict(self, component: str, n: int) -> None:
        if component in self.mm.cache.components:
            self.mm.cache.evict(component, n)

    @invariant()
    def identity(self) -> None:
        if hasattr(self, "mm"):
            self.mm.check(idle=not self.mm.running)
            tree = self.mm.cache
            assert tree.audit() == {"evictable": tree.evictable, "protected": tree.protected}

    def teardown(self) -> None:
        if not hasattr(self, "mm"):
            return
        for req in list(self.reqs):
            self.mm.abort(req)
        for sid in list(self.mm.sessions):
            assert self.mm.close_session(sid)
        self.mm.check(idle=True)
        self.mm.cache.evict(self.mm.cache.components[0], 10**6)
        for name, part in self.mm.stats().pools.items():
            assert part.available + part.evictable == part.capacity, name


Lifecycles.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLifecycles = Lifecycles.TestCase


def _start_making_room(mm: MemoryManager, rid: str, tokens: list[int], chunk: int,
                       session: object = None) -> tuple[ReqMemory, list[str]]:
    """Admits the request, evicting idle sessions (least recently used first) while it cannot
    be; returns it and the sessions evicted for it."""
    evicted: list[str] = []
    req = start(mm, rid, tokens, chunk, session)  # type: ignore[arg-type]
    while req is None and (eviction := mm.evict_idle_session(0.0)) is not None:
        evicted.append(eviction.sid)
        req = start(mm, rid, tokens, chunk, session)  # type: ignore[arg-type]
    assert req is not None, f"{rid} fits the empty pools but was not admitted"
    return req, evicted


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    turns=st.lists(st.lists(st.integers(0, 2), min_size=8, max_size=30), min_size=2, max_size=5),
    prompt_len=st.integers(1, 40),
    mamba=st.booleans(),
    strategy=st.sampled_from(list(MambaStrategy)),
)
def test_idle_sessions_give_way_to_any_request_that_fits_the_empty_pools(
    turns: list[list[int]], prompt_len: int, mamba: bool, strategy: MambaStrategy
) -> None:
    """Sessions filling a small pool never keep out a request that fits the empty pools: idle
    sessions hand their memory to the prefix cache, least recently used first, until it is
    admitted; the identity holds throughout and everything is free once all is closed."""
    mm = MemoryManager(MemoryConfig(
        full_slots=64, swa_slots=48, mamba_slots=12 if mamba else 0, req_rows=7, window=8,
        mamba_strategy=strategy, track_interval=4, max_context=128, check_mode=CheckMode.BUSY,
        on_leak=LeakPolicy.RAISE,
    ))
    order: list[str] = []  # sessions by the end of their last turn
    for i, tokens in enumerate(turns):
        slot = mm.open_session(f"s{i}")
        req, _ = _start_making_room(mm, f"t{i}", tokens, 4, slot)
        while not prefilled(req):
            if not step(mm, req, 4):  # the scheduler's _make_room: an idle session goes first
                assert mm.evict_idle_session(0.0) is not None
        req.tokens.append(1)
        mm.finish(req)
        order.append(slot.sid)
    mm.check(idle=True)
    holding = [sid for sid in order if not mm.sessions[sid].is_empty]
    req, evicted = _start_making_room(mm, "big", [1] * prompt_len, prompt_len)
    assert evicted == holding[: len(evicted)]
    mm.abort(req)
    for sid in list(mm.sessions):
        assert mm.close_session(sid)
    mm.cache.evict(mm.cache.components[0], 10**6)
    for name, part in mm.stats().pools.items():
        assert part.available + part.evictable == part.capacity, name
