"""The pool-usage fields of `prefill_batch` and `decode_batch` events, from a PoolStats snapshot.

Named as in SGLang's decode line. As there, a pool's part appears only when the pool is live, and
usage figures carry two decimals (the exact slot counts sit beside them).
"""

from __future__ import annotations

from telemetry.pool_stats import PoolStats

USAGE_DECIMALS = 2
DECODE_LOG_INTERVAL = 40  # decode steps per decode_batch line, SGLang's default


def _rounded(value: float) -> float:
    return round(value, USAGE_DECIMALS)


def usage_fields(stats: PoolStats) -> dict[str, int | float]:
    """`token` (KV slots used, max over full and swa), `token_usage` (max over full, swa and
    mamba: the FIXME'd compatibility figure), `kv_token_usage`, then per live pool: full/swa
    tokens, mamba states, and with the host tier gpu (device) and cpu (host) tokens."""
    pools = stats.pools
    kv_used = max((pools[p].used for p in ("full", "swa") if p in pools), default=0)
    fields: dict[str, int | float] = {
        "token": kv_used, "token_usage": _rounded(stats.token_usage),
        "kv_token_usage": _rounded(stats.kv_token_usage),
    }
    is_hybrid = "swa" in pools or "mamba" in pools
    if is_hybrid and "full" in pools:
        full = pools["full"]
        fields |= {"full_token": full.used, "full_token_usage": _rounded(full.usage)}
    if "swa" in pools:
        fields |= {"swa_token": pools["swa"].used, "swa_token_usage": _rounded(pools["swa"].usage)}
    if "mamba" in pools:
        fields |= {"mamba_num": pools["mamba"].used, "mamba_usage": _rounded(pools["mamba"].usage)}
    if "host" in pools:
        gpu, cpu = pools["full"], pools["host"]
        fields |= {"gpu_token": gpu.used, "gpu_token_usage": _rounded(gpu.usage),
                   "cpu_token": cpu.used, "cpu_token_usage": _rounded(cpu.usage)}
    return fields
