"""The batch decode path (`alloc_decode`, `after_forward_batch`, summed pool stats) against the
per-request path: identical slots, tables, free lists, partitions and checker results."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.memory.checker import CheckMode
from runtime.memory.holdings import ReqMemory
from runtime.memory.manager import MemoryManager
from runtime.memory.memory_config import HostTierConfig, MambaStrategy, MemoryConfig
from tests.memory.driver import prefilled, start, step

ARRIVE = st.tuples(st.just("arrive"), st.lists(st.integers(0, 2), min_size=1, max_size=20))
OPS = st.lists(
    st.one_of(ARRIVE, ARRIVE, ARRIVE, st.tuples(st.just("decode"), st.integers(1, 8)),
              st.tuples(st.just("finish"), st.integers(0, 7))),
    min_size=1, max_size=40,
)


def _config(strategy: MambaStrategy, page: int, window: int | None, mamba: bool,
            host: bool, full_pages: int) -> MemoryConfig:
    if strategy is MambaStrategy.NO_BUFFER:
        page = 1
    return MemoryConfig(
        full_slots=full_pages * page, swa_slots=(full_pages // 2 + 4) * page if window else 0,
        mamba_slots=12 if mamba else 0, req_rows=8, page_size=page, window=window,
        mamba_strategy=strategy, track_interval=2 * page, max_context=64,
        host_slots=full_pages * page if host else 0,
        host_tier=HostTierConfig(sink_tokens=2, recent_tokens=page, top_k_pages=1)
        if host else None,
        check_mode=CheckMode.BUSY,
    )


class Driver:
    """Drives one manager the way the scheduler does; `batch` picks the decode path."""

    def __init__(self, config: MemoryConfig, batch: bool) -> None:
        self.mm, self.batch = MemoryManager(config), batch
        self.reqs: list[ReqMemory] = []
        self.count = self.batched = 0

    def arrive(self, tokens: list[int]) -> None:
        self.count += 1
        req = start(self.mm, f"r{self.count}", tokens, chunk=5)
        if req is None:
            return
        while not prefilled(req):
            if not step(self.mm, req, 5):
                self.mm.retract(req)
                return
        self.reqs.append(req)

    def decode(self) -> None:
        """One decode step of every running request, retracting the newest when short (a
        request at the context limit finishes first)."""
        for req in [r for r in self.reqs if r.held.allocated >= 64]:
            self.finish(self.reqs.index(req))
        for req in self.reqs:
            req.tokens.append(7)
        mems = list(self.reqs)
        if self.batch and mems and self.mm.alloc_decode(mems) is not None:
            self.batched += 1
            self.mm.after_forward_batch(mems)
            return
        done: list[ReqMemory] = []
        for req in mems:
            while req in self.reqs and not self._extend(req):
                victims = [r for r in self.reqs if r not in done]
                self.mm.retract(victims[-1])
                self.reqs.remove(victims[-1])
            if req in self.reqs:
                done.append(req)
        if self.batch:
            self.mm.after_forward_batch(done)
        else:
            for req in done:
                self.mm.after_forward(req)

    def _extend(self, req: ReqMemory) -> bool:
        if not self.mm.can_extend(req, 1):
            return False
        self.mm.alloc_extend(req, 1)
        return True

    def finish(self, i: int) -> None:
        if self.reqs:
            req = self.reqs.pop(i % len(self.reqs))
            req.tokens.append(9)
            self.mm.finish(req)

    def state(self) -> dict[str, Any]:
        """Everything the two paths must agree on."""
        mm = self.mm
        frees = {name: list(pool._free_pages if hasattr(pool, "_free_pages")
                            else pool._slots._free)
                 for name, pool in mm.pools.by_name().items()}
        held = {r.rid: (r.held.slots, r.held.allocated, r.held.swa_evicted, r.held.row,
                        r.held.host_backed, r.held.mamba) for r in self.reqs}
        tables = {k: t.clone() for k, t in mm.pools.req.table.tables.items()}
        return dict(frees=frees, held=held, tables=tables, stats=mm.stats(),
                    check=mm.check(idle=False), evicted=dict(mm.cache.num_evicted),
                    failures=mm.counters.track_alloc_failures)


def _assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    tables_a, tables_b = a.pop("tables"), b.pop("tables")
    assert a == b
    assert tables_a.keys() == tables_b.keys()
    assert all(tables_a[k].equal(tables_b[k]) for k in tables_a)


def _running_sum(mm: MemoryManager) -> dict[str, int]:
    total: dict[str, int] = {}
    for req in mm.running.values():
        for name, n in mm.own_slots(req.held).items():
            total[name] = total.get(name, 0) + n
    return total


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(strategy=st.sampled_from(list(MambaStrategy)), page=st.sampled_from([1, 2, 4]),
       window=st.sampled_from([None, 3, 8]), mamba=st.booleans(), host=st.booleans(),
       full_pages=st.integers(8, 48), ops=OPS)
def test_batch_decode_matches_the_per_request_path(
    strategy: MambaStrategy, page: int, window: int | None, mamba: bool, host: bool,
    full_pages: int, ops: list[tuple[str, Any]],
) -> None:
    """Over random decode workloads the batch path leaves every slot, table cell, free list,
    pool partition and checker result exactly as the per-request path does."""
    config = _config(strategy, page, window, mamba, host, full_pages)
    batch, single = Driver(config, batch=True), Driver(config, batch=False)
    for op, arg in ops:
        for driver in (batch, single):
            if op == "arrive":
                driver.arrive(arg)
            elif op == "decode":
                for _ in range(arg):
                    driver.decode()
            else:
                driver.finish(arg)
        _assert_same(batch.state(), single.state())
        running = _running_sum(batch.mm)
        parts = batch.mm.stats().pools
        assert all(parts[name].running == n for name, n in running.items())


def test_alloc_decode_declines_a_batch_that_needs_eviction() -> None:
    """A decode batch whose new pages exceed the free lists is left to the per-request path
    (None, nothing taken); one that fits gets one slot per request and pool."""
    config = _config(MambaStrategy.EXTRA_BUFFER, 1, 3, True, False, 40)
    driver = Driver(config, batch=True)
    for tokens in ([1, 2, 0, 1], [2, 2, 1], [0, 1, 1, 2, 2]):
        driver.arrive(tokens)
    mm = driver.mm
    free = {name: pool.num_free_slots for name, pool in mm.pools.kv.items()}
    slots = mm.alloc_decode(driver.reqs)
    assert slots is not None and all(len(s) == 2 and len(s["full"]) == 1 for s in slots)
    assert mm.pools.kv["full"].num_free_slots == free["full"] - 3
    while mm.pools.kv["full"].num_free_slots >= len(driver.reqs):
        mm.alloc_decode(driver.reqs)
    before = driver.state()
    assert mm.alloc_decode(driver.reqs) is None
    _assert_same(driver.state(), before)
    assert len(driver.reqs) == 3
