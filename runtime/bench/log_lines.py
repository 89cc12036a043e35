"""Realistic decode-log lines for the parser benchmark: our JSON and text layouts and SGLang's
text forms of each era (early 2024 `[gpu_id=N]` lines without a decode header; the 2024 period
form; the 2025 comma form of a plain KV model with iteration and `accept len`; the comma form
with SWA and mamba parts; HiSparse). One line in ten is a prefill line, the rest decode lines."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson

from telemetry import catalog
from telemetry.logs.text_layout import render_text

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
    }
    head = {"timestamp": stamp, "level": "info"}
    if i % PREFILL_EVERY == 0:
        return {"event": catalog.PREFILL_BATCH.name, **head, "new_seq": rng.randint(1, 8),
                "new_token": rng.randint(16, 8192), "cached_token": rng.randint(0, 4096),
                "cache_hit_rate": round(rng.random(), 4), **usage,
                "running_req": rng.randint(0, 256), "queue_req": rng.randint(0, 64)}
    return {"event": catalog.DECODE_BATCH.name, **head, "running_req": rng.randint(1, 256),
            **usage, "graph": True, "gen_throughput": round(rng.uniform(10, 5000), 2),
            "queue_req": rng.randint(0, 64)}


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


def _sglang_early(rng: random.Random, i: int) -> str:
    num, usage = rng.randint(0, 100_000), rng.random()
    if i % PREFILL_EVERY == 0:
        return (
            f"[gpu_id=0] Prefill batch. #new-seq: {rng.randint(1, 8)}, "
            f"#new-token: {rng.randint(16, 8192)}, #cached-token: {rng.randint(0, 4096)}, "
            f"cache hit rate: {rng.random() * 100:.2f}%, #running-req: {rng.randint(0, 256)}, "
            f"#queue-req: {rng.randint(0, 64)}"
        )
    return (
        f"[gpu_id=0] #running-req: {rng.randint(1, 256)}, #token: {num}, "
        f"token usage: {usage:.2f}, gen throughput (token/s): {rng.uniform(10, 5000):.2f}, "
        f"#queue-req: {rng.randint(0, 64)}"
    )


def _sglang_plain(rng: random.Random, i: int) -> str:
    stamp = (START + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S")
    usage = rng.random()
    kv = f"#token: {int(usage * 500_000)}, token usage: {usage:.2f}, "
    if i % PREFILL_EVERY == 0:
        return (
            f"[{stamp} TP0] Prefill batch [{i}], #new-seq: {rng.randint(1, 8)}, "
            f"#new-token: {rng.randint(16, 8192)}, #cached-token: {rng.randint(0, 4096)}, "
            f"token usage: {usage:.2f}, #running-req: {rng.randint(0, 256)}, "
            f"#queue-req: {rng.randint(0, 64)}, "
        )
    return (
        f"[{stamp} TP0] Decode batch [{i}], #running-req: {rng.randint(1, 256)}, {kv}"
        f"accept len: {rng.uniform(1, 4):.2f}, cuda graph: True, "
        f"gen throughput (token/s): {rng.uniform(10, 5000):.2f}, #queue-req: {rng.randint(0, 64)}, "
    )


def _sglang_hisparse(rng: random.Random, i: int) -> str:
    stamp = (START + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S")
    gpu, cpu = rng.random(), rng.random()
    if i % PREFILL_EVERY == 0:
        return (
            f"[{stamp} TP0] Prefill batch, #new-seq: {rng.randint(1, 8)}, "
            f"#new-token: {rng.randint(16, 8192)}, #cached-token: {rng.randint(0, 4096)}, "
            f"token usage: {gpu:.2f}, #running-req: {rng.randint(0, 256)}, "
            f"#queue-req: {rng.randint(0, 64)}, "
        )
    return (
        f"[{stamp} TP0] Decode batch, #running-req: {rng.randint(1, 256)}, "
        f"#gpu token: {int(gpu * 60_000)}, gpu token usage: {gpu:.2f}, "
        f"#cpu token: {int(cpu * 900_000)}, cpu token usage: {cpu:.2f}, cuda graph: True, "
        f"gen throughput (token/s): {rng.uniform(10, 5000):.2f}, #queue-req: {rng.randint(0, 64)}, "
    )


FORMATS: dict[str, Callable[[random.Random, int], str]] = {
    "poolscope_json": lambda rng, i: orjson.dumps(_event(rng, i)).decode(),
    "poolscope_text": lambda rng, i: render_text(_event(rng, i)),
    "sglang_2024_early": _sglang_early,
    "sglang_2024_period": _sglang_2024,
    "sglang_comma_plain": _sglang_plain,
    "sglang_comma_swa_mamba": _sglang_comma,
    "sglang_comma_hisparse": _sglang_hisparse,
}


def lines(layout: str, num_lines: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [FORMATS[layout](rng, i) for i in range(num_lines)]
