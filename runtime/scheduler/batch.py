"""What one scheduler step runs: a prefill batch (chunks) or a decode batch (one token each)."""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime.memory.sessions import SessionEviction
from runtime.scheduler.outcomes import Phase
from runtime.scheduler.request import Request


@dataclass
class ScheduledBatch:
    """Requests with their new tokens, already given KV slots by the memory manager."""

    phase: Phase
    reqs: list[Request] = field(default_factory=list)
    prefix_lens: list[int] = field(default_factory=list)
    input_ids: list[list[int]] = field(default_factory=list)
    out_slots: dict[str, list[list[int]]] = field(default_factory=dict)

    def add(self, req: Request, prefix: int, n: int, slots: dict[str, list[int]]) -> None:
        self.reqs.append(req)
        self.prefix_lens.append(prefix)
        self.input_ids.append(req.tokens[prefix : prefix + n])
        for name, values in slots.items():
            self.out_slots.setdefault(name, []).append(values)

    @property
    def num_tokens(self) -> int:
        return sum(len(ids) for ids in self.input_ids)

    def __len__(self) -> int:
        return len(self.reqs)


@dataclass
class ScheduleResult:
    """A step's batch (None when there is nothing to run) and the requests the step moved out
    of the running set: retracted ones (requeued) and ones that can never fit (aborted), and
    the idle sessions whose memory it handed to the prefix cache to make room."""

    batch: ScheduledBatch | None
    retracted: list[Request] = field(default_factory=list)
    out_of_memory: list[Request] = field(default_factory=list)
    admitted: list[Request] = field(default_factory=list)
    cached_tokens: int = 0  # prefix-cache hits of the admitted requests
    session_evictions: list[SessionEviction] = field(default_factory=list)
