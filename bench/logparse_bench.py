"""Benchmark of the log parser: lines per second of `iter_records` for each layout it reads.

    .venv/bin/python bench/logparse_bench.py [--lines N] [--repeat R]
        [--out bench/results/logparse.json]

For each layout (our JSON lines, our text layout, SGLang's 2024 period form, SGLang's comma form
with SWA and mamba parts) it generates N realistic lines (one prefill line in ten, the rest
decode lines), parses them R times and keeps the fastest run. Prints a table and writes JSON:
{"<layout>": {"lines", "seconds", "lines_per_s"}, ..., "python": ..., "machine": ...}.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from telemetry import catalog
from telemetry.logparse import ParseStats, iter_records
from telemetry.text_layout import render_text

START = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)
PREFILL_EVERY = 10


def _event(rng: random.Random, i: int) -> dict:
    """One decode (or every tenth line a prefill) event of a hybrid SWA + mamba model."""
    stamp = (START + timedelta(milliseconds=40 * i)).isoformat().replace("+00:00", "Z")
    full, swa, mamba = rng.random(), rng.random() * 0.5, rng.random()
    usage = {
        "token": int(full * 120_000), "token_usage": round(max(full, swa, mamba), 2),
        "kv_token_usage": round(max(full, swa), 2), "full_token": int(full * 120_000),
        "full_token_usage": round(full, 2), "swa_token": int(swa * 30_000),
        "swa_token_usage": round(swa, 2), "mamba_num": int(mamba * 256),
        "mamba_usage": round(mamba, 2),
    }  # fmt: skip
    head = {"timestamp": stamp, "level": "info"}
    if i % PREFILL_EVERY == 0:
        return {"event": catalog.PREFILL_BATCH.name, **head, "new_seq": rng.randint(1, 8),
                "new_token": rng.randint(16, 8192), "cached_token": rng.randint(0, 4096),
                "cache_hit_rate": round(rng.random(), 4), **usage,
                "running_req": rng.randint(0, 256), "queue_req": rng.randint(0, 64)}  # fmt: skip
    return {"event": catalog.DECODE_BATCH.name, **head, "running_req": rng.randint(1, 256),
            **usage, "graph": True, "gen_throughput": round(rng.uniform(10, 5000), 2),
            "queue_req": rng.randint(0, 64)}  # fmt: skip


def _sglang_2024(rng: random.Random, i: int) -> str:
    stamp = (START + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S")
    num, usage = rng.randint(0, 100_000), rng.random()
    if i % PREFILL_EVERY == 0:
        return (
            f"[{stamp} TP0] Prefill batch. #new-seq: {rng.randint(1, 8)}, "
            f"#new-token: {rng.randint(16, 8192)}, #cached-token: {rng.randint(0, 4096)}, "
            f"cache hit rate: {rng.random() * 100:.2f}%, token usage: {usage:.2f}, "
            f"#running-req: {rng.randint(0, 256)}, #queue-req: {rng.randint(0, 64)}"
        )
    return (
        f"[{stamp} TP0] Decode batch. #running-req: {rng.randint(1, 256)}, #token: {num}, "
        f"token usage: {usage:.2f}, gen throughput (token/s): {rng.uniform(10, 5000):.2f}, "
        f"#queue-req: {rng.randint(0, 64)}"
    )


def _sglang_comma(rng: random.Random, i: int) -> str:
    stamp = (START + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S")
    full, swa, mamba = rng.random(), rng.random() * 0.5, rng.random()
    pools = (
        f"#full token: {int(full * 120_000)}, full token usage: {full:.2f}, "
        f"#swa token: {int(swa * 30_000)}, swa token usage: {swa:.2f}, "
        f"mamba num: {int(mamba * 256)}, mamba usage: {mamba:.2f}, "
    )
    if i % PREFILL_EVERY == 0:
        return (
            f"[{stamp} DP0 TP0] Prefill batch [{i}], #new-seq: {rng.randint(1, 8)}, "
            f"#new-token: {rng.randint(16, 8192)}, #cached-token: {rng.randint(0, 4096)}, "
            f"{pools}#running-req: {rng.randint(0, 256)}, #queue-req: {rng.randint(0, 64)}, "
            f"input throughput (token/s): {rng.uniform(1000, 90000):.2f}, "
        )
    return (
        f"[{stamp} DP0 TP0] Decode batch [{i}], #running-req: {rng.randint(1, 256)}, {pools}"
        f"cuda graph: True, gen throughput (token/s): {rng.uniform(10, 5000):.2f}, "
        f"#queue-req: {rng.randint(0, 64)}, "
    )


FORMATS: dict[str, Callable[[random.Random, int], str]] = {
    "poolscope_json": lambda rng, i: orjson.dumps(_event(rng, i)).decode(),
    "poolscope_text": lambda rng, i: render_text(_event(rng, i)),
    "sglang_2024_period": _sglang_2024,
    "sglang_comma_swa_mamba": _sglang_comma,
}


def bench(name: str, num_lines: int, repeat: int) -> dict[str, float]:
    """The fastest of `repeat` parses of `num_lines` generated lines of one layout."""
    rng = random.Random(0)
    lines = [FORMATS[name](rng, i) for i in range(num_lines)]
    best = float("inf")
    for _ in range(repeat):
        stats = ParseStats()
        start = time.perf_counter()
        for _record in iter_records(lines, stats):
            pass
        best = min(best, time.perf_counter() - start)
        if stats.num_records != num_lines:  # the benchmark must time real parsing
            raise RuntimeError(f"{name}: only {stats.num_records} of {num_lines} lines parsed")
    return {"lines": num_lines, "seconds": round(best, 4), "lines_per_s": round(num_lines / best)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000, help="lines per layout")
    parser.add_argument("--repeat", type=int, default=3, help="runs per layout; the best counts")
    parser.add_argument("--out", type=Path, default=Path("bench/results/logparse.json"))
    args = parser.parse_args(argv)
    results: dict[str, object] = {}
    print(f"{'layout':<24}{'lines':>10}{'seconds':>10}{'lines/s':>12}")
    for name in FORMATS:
        row = bench(name, args.lines, args.repeat)
        results[name] = row
        print(f"{name:<24}{row['lines']:>10}{row['seconds']:>10.3f}{row['lines_per_s']:>12,}")
    results["python"] = sys.version.split()[0]
    results["machine"] = (
        f"{platform.platform()} {platform.machine()} {platform.processor()}".strip()
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
