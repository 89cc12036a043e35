"""Torch's CPU thread pools for the engine, set on purpose rather than left to torch's guess.

torch sizes its intra-op pool from the machine's physical cores, not from the CPUs this process
may run on (a container's cpuset, `taskset`), so a process limited to 2 CPUs of a 64-core host
would run 32 threads that fight over 2 CPUs. The default here is the physical cores among the
CPUs in `os.sched_getaffinity`. The engine never runs ops in parallel with each other, so the
inter-op pool gets one thread.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch

log = logging.getLogger(__name__)
_CPU_TOPOLOGY = Path("/sys/devices/system/cpu")


@dataclass(frozen=True)
class TorchThreads:
    """What the engine runs with: intra-op and inter-op threads, and whether they were asked."""

    intra_op: int
    inter_op: int
    requested: bool


def available_cores(cpus: set[int] | None = None, topology: Path = _CPU_TOPOLOGY) -> int:
    """Physical cores among the CPUs this process may run on (hyperthread siblings count once);
    the number of CPUs when the topology cannot be read."""
    cpus = os.sched_getaffinity(0) if cpus is None else cpus
    cores = set()
    for cpu in cpus:
        base = topology / f"cpu{cpu}" / "topology"
        try:
            cores.add(((base / "physical_package_id").read_text().strip(),
                       (base / "core_id").read_text().strip()))
        except OSError:
            return max(1, len(cpus))
    return max(1, len(cores))


def apply_torch_threads(requested: int | None) -> TorchThreads:
    """Sets torch's intra-op threads to `requested` (default: `available_cores()`) and inter-op
    threads to 1, logs them (debug), and returns what is in effect."""
    intra = requested if requested is not None else available_cores()
    torch.set_num_threads(intra)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # NOTE: only settable before the pool starts; once is enough
        pass
    threads = TorchThreads(torch.get_num_threads(), torch.get_num_interop_threads(),
                           requested is not None)
    # NOTE: debug only: the JSON log stream carries catalog events alone; `poolscope serve`
    # reports the figure in its `server_started` event.
    log.debug("torch threads: %d intra-op (%s), %d inter-op", threads.intra_op,
             "--torch-threads" if threads.requested else "physical cores available",
             threads.inter_op)
    return threads
