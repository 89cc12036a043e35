"""Runtime settings that are not model architecture: environment, device and dtype choices.

Environment variables are read here and nowhere else; all carry the `POOLSCOPE_` prefix except
oneDNN's `ONEDNN_PRIMITIVE_CACHE_CAPACITY`, which `bound_onednn_cache` defaults. The OpenTelemetry
SDK reads its own standard `OTEL_*` variables (endpoint, headers, export interval); here we only
look whether an OTLP endpoint is set at all, to decide whether to export.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

import torch

ENV_PREFIX = "POOLSCOPE_"
# The OTel SDK's own variables that name where metrics go; any one set turns OTLP export on.
OTLP_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
ONEDNN_CACHE_ENV = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"
ONEDNN_CACHE_DEFAULT = "0"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class EnvSettings:
    """What the environment says: where built-in checkpoints are cached, and the server's API
    key (kept out of the command line, where `ps` shows it)."""

    cache_dir: Path
    api_key: str | None = None
    otlp: bool = False  # an OTLP endpoint is set: metrics go there too (the SDK reads where)


def env_settings(environ: Mapping[str, str] | None = None) -> EnvSettings:
    """Reads `POOLSCOPE_CACHE_DIR` (default `~/.cache/poolscope`), `POOLSCOPE_API_KEY` and
    whether `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` is set."""
    env = os.environ if environ is None else environ
    cache = env.get(f"{ENV_PREFIX}CACHE_DIR") or str(Path.home() / ".cache" / "poolscope")
    api_key = env.get(f"{ENV_PREFIX}API_KEY") or None
    otlp = any(env.get(name) for name in OTLP_ENDPOINT_VARS)
    return EnvSettings(cache_dir=Path(cache).expanduser(), api_key=api_key, otlp=otlp)


def bound_onednn_cache(environ: MutableMapping[str, str] | None = None) -> str:
    """Turns oneDNN's primitive cache off unless the user sized it; returns the capacity.

    NOTE: oneDNN (torch's CPU matmul/conv backend) keeps a primitive, with its scratch memory,
    per distinct shape, up to 1,024 of them. Prefill chunk lengths and batch sizes give hundreds
    of shapes, so a serving process's RSS rose by ~400 MB over a few thousand requests (a soak:
    +34 MB per 1k actions; with capacity 128 still +67; with 0 flat, and no slower). oneDNN reads
    the variable when it first builds a primitive: call this before the first CPU matmul.
    """
    env = os.environ if environ is None else environ
    return env.setdefault(ONEDNN_CACHE_ENV, ONEDNN_CACHE_DEFAULT)


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when present; anything else must name a device torch can use."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device '{name}' requested but CUDA is not available")
    return device


def resolve_dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise ValueError(f"unknown dtype '{name}'; choose one of {', '.join(DTYPES)}")
    return DTYPES[name]
