"""Prometheus file-based discovery (file_sd) of SGLang servers from their URLs: what
`poolscope dashboards sglang-target URL --out FILE` writes for `compose.sglang.yaml`'s Prometheus.

    target = parse_url("https://gpu-3.example:30000/sglang")   # raises ValueError when bad
    target.target_group()   # {"targets": ["gpu-3.example:30000"], "labels": {"__scheme__": "https",
                            #  "__metrics_path__": "/sglang/metrics", "instance": ...}}
    write_file_sd(Path("sglang.json"), [target])                # atomic: temp file + rename

The labels name no job: the scrape config that reads the file sets it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

SCHEMES = {"http": 80, "https": 443}  # scheme → its default port
METRICS_PATH = "/metrics"
FILE_MODE = 0o644  # NOTE: Prometheus runs as another user (nobody) and must read the file


@dataclass(frozen=True)
class SGLangTarget:
    """One SGLang server as Prometheus scrapes it: `scheme://host:port<path_prefix>/metrics`.
    `path_prefix` is "" or starts with "/" and has no trailing "/" (a reverse proxy's path)."""

    scheme: str
    host: str
    port: int
    path_prefix: str = ""

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be http or https, not {self.scheme!r}")
        if not self.host:
            raise ValueError("host must not be empty")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port must be within 1..65535, not {self.port}")
        if self.path_prefix and (
            not self.path_prefix.startswith("/") or self.path_prefix.endswith("/")
        ):
            raise ValueError(f"path prefix must start and not end with '/': {self.path_prefix!r}")

    @property
    def address(self) -> str:
        """`host:port`, an IPv6 address in brackets: Prometheus's `__address__`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def metrics_path(self) -> str:
        return f"{self.path_prefix}{METRICS_PATH}"

    @property
    def instance(self) -> str:
        """`host:port`, plus the path prefix when there is one, so that two servers behind one
        proxy stay two instances."""
        return f"{self.address}{self.path_prefix}"

    @property
    def is_loopback(self) -> bool:
        """Whether the host is this machine: inside a container, the container itself."""
        if self.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def target_group(self) -> dict[str, object]:
        """One file_sd target group: the address, and the labels that set scheme, path and
        instance."""
        labels = {"__scheme__": self.scheme, "__metrics_path__": self.metrics_path,
                  "instance": self.instance}
        return {"targets": [self.address], "labels": labels}


def parse_url(url: str) -> SGLangTarget:
    """The target of an SGLang server's base URL (`http://host:30000`, `https://host/prefix`);
    the default port is the scheme's, and a URL ending in `/metrics` is taken as the metrics URL
    itself. Raises ValueError naming the URL for anything else: another scheme, no host, a bad
    port, credentials, a query or a fragment."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # a port that is not a number or is out of range
        raise ValueError(f"bad SGLang URL {url!r}: {exc}") from None
    scheme = parts.scheme if "://" in text else ""  # "host:30000" parses as scheme "host"
    problem = _problem(scheme, parts.hostname, parts.username, parts.query, parts.fragment)
    if problem:
        raise ValueError(f"bad SGLang URL {url!r}: {problem} (expected http[s]://HOST[:PORT])")
    assert parts.hostname is not None  # _problem rejects a URL without one
    prefix = parts.path.rstrip("/").removesuffix(METRICS_PATH).rstrip("/")
    port = SCHEMES[parts.scheme] if port is None else port
    try:
        return SGLangTarget(parts.scheme, parts.hostname, port, prefix)
    except ValueError as exc:
        raise ValueError(f"bad SGLang URL {url!r}: {exc}") from None


def _problem(
    scheme: str, host: str | None, user: str | None, query: str, fragment: str
) -> str | None:
    if scheme not in SCHEMES:
        return f"the scheme must be http or https, not {scheme!r}" if scheme else "no scheme"
    if not host:
        return "no host"
    if user is not None:
        return "credentials in the URL are not supported"
    if query or fragment:
        return "a query or fragment is not supported"
    return None


def file_sd_document(targets: Sequence[SGLangTarget]) -> list[dict[str, object]]:
    """The file_sd JSON content: one target group per server (their paths may differ)."""
    return [target.target_group() for target in targets]


def write_file_sd(path: Path, targets: Sequence[SGLangTarget]) -> None:
    """Writes the file_sd JSON to `path` atomically (a temporary file in the same folder,
    renamed over it), readable by all: Prometheus watches the file and must never read half
    of it. Raises OSError when the folder is not writable."""
    text = json.dumps(file_sd_document(targets), indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
