"""Stress run of issue 17, on 127.0.0.1 only: `poolscope serve --mem-check busy` on small pools
under `poolscope loadgen` (8 workers, half of them in sessions) plus the soak benchmark's mixed
clients (streams dropped midway, session turns and closes, bad bodies), the server's RSS sampled,
then SIGTERM under load. Prints what the server logged (requests by finish reason, errors, aborts
for memory, session evictions, leaks, error lines) and the RSS slope after warm-up.

    .venv/bin/python scripts/stress.py [SECONDS] [LOG_FILE]      # default 180 s
"""

from __future__ import annotations

import collections
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from runtime.bench.soak import slope
from runtime.bench.soak_load import LoadShape, SoakLoad

POOLS = ["--full-tokens", "1024", "--swa-tokens", "1024", "--mamba-slots", "24"]
VOCAB = 320  # the built-in default model's


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _serve(log: Path) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "runtime.cli", "serve", "--port", "0", "--mem-check", "busy",
           *POOLS, "--drain-timeout", "5", "--log-file", str(log)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    found = re.search(r"on (http://127\.0\.0\.1:\d+)", proc.stderr.readline())
    assert found, "the server did not start"
    return proc, found.group(1)


def _loadgen(url: str, seconds: float) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "runtime.cli", "loadgen", "--url", url, "--concurrency", "8",
           "--session-share", "0.5", "--session-turns", "4", "--duration", str(seconds),
           "--prompt-len", "64", "--prompt-len-dist", "exponential", "--output-len", "32",
           "--output-len-dist", "exponential", "--json", "", "--timeout", "300",
           "--no-progress"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _summary(log: Path, samples: list[tuple[float, float]], seconds: float) -> dict:
    events = [json.loads(line) for line in log.read_text().splitlines()]
    finished = [e for e in events if e["event"] == "request_finished"]
    errors = [e.get("error") or "" for e in finished]
    warm = [s for s in samples if s[0] >= 0.4 * seconds]
    return {
        "requests_finished": len(finished),
        "by_reason": collections.Counter(e["finish_reason"] for e in finished),
        "errors": collections.Counter(error[:48] for error in errors if error),
        "aborts_for_memory": sum("out of memory" in error for error in errors),
        "pools_busy": sum("pools were busy" in error for error in errors),
        "session_evicted": sum(e["event"] == "session_evicted" for e in events),
        "memory_leak_events": sum(e["event"] == "memory_leak" for e in events),
        "error_level_lines": sum(e.get("level") == "error" for e in events),
        "rss_mb_first_last_max": (samples[0][1], samples[-1][1], max(s[1] for s in samples)),
        "rss_slope_mb_per_min_after_warmup": slope([s[0] for s in warm], [s[1] for s in warm])
        * 60,
    }


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 180.0
    log = Path(sys.argv[2] if len(sys.argv) > 2 else "stress-serve.jsonl")
    log.unlink(missing_ok=True)
    server, url = _serve(log)
    loadgen = _loadgen(url, seconds)
    mixed = SoakLoad(url, LoadShape(num_clients=6, max_prompt=200, max_tokens=32,
                                    vocab_size=VOCAB))
    samples, start = [], time.monotonic()
    while (now := time.monotonic() - start) < seconds:
        samples.append((now, _rss_mb(server.pid)))
        time.sleep(5)
    server.send_signal(signal.SIGTERM)  # under load
    exit_code = server.wait(120)
    mixed.close()
    report = loadgen.communicate(timeout=600)[0]
    out = {"exit_code": exit_code, **_summary(log, samples, seconds),
           "mixed_clients": mixed.counts.read()}
    print(json.dumps(out, indent=1, default=str))
    print("\n".join(report.splitlines()[-25:]))


if __name__ == "__main__":
    main()
