"""Which files `poolscope logs export FILE` reads when FILE is a glob, and the `source` label of
each, taken from its path:

    /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log  → <namespace>/<pod>/<container>
    /var/log/containers/<pod>_<namespace>_<container>-<id>.log  → <namespace>/<pod>/<container>
                                    (kubelet's links to the files above, named for humans)
    /var/lib/docker/containers/<id>/<id>-json.log               → <id>[:12], Docker's short id
    anything else        → the path below the glob's fixed folders (`a/sglang.log` for
                           `/logs/*/sglang.log`)

A container's restarts (0.log, 1.log) share its source: they are one server's log over time.
Rotated copies are never matched, so that a line is not read twice: the follower of the live
file already reads it to its end when it is renamed (`telemetry.export.tail`), and compressed or
half-compressed copies cannot be followed. Rotated means a rotation suffix after `.log`
(`0.log.20261205-100000` as kubelet names them, `x-json.log.1` as Docker does, `s.log.2.gz`,
`s.log-20261205` as logrotate does) or a `.gz` or `.tmp` end. Give such a file by its own path
(no glob characters) to read it.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path, PurePath

_MAGIC = re.compile(r"[*?[]")
_ROTATED = re.compile(r"\.log[.-]\d[\d-]*(\.gz|\.tmp)*\Z|\.(gz|tmp)\Z")
# Kubernetes names have no `_`; the uid is a UUID (a 32-hex hash for static pods)
_POD_DIR = re.compile(r"([^_/]+)_([^_/]+)_[0-9a-f-]{32,36}")
_RESTART_LOG = re.compile(r"\d+\.log")
_CONTAINER_LINK = re.compile(r"([^_/]+)_([^_/]+)_([^/]+)-[0-9a-f]{64}\.log")
_DOCKER_ID = re.compile(r"[0-9a-f]{64}")


def is_glob(pattern: str) -> bool:
    """Whether `pattern` has glob characters (`*`, `?`, `[`)."""
    return _MAGIC.search(pattern) is not None


def is_rotated(name: str) -> bool:
    """Whether a file name is a rotated copy of a log (see the module docstring)."""
    return _ROTATED.search(name) is not None


def matching_files(pattern: str) -> list[Path]:
    """The files that `pattern` matches now, rotated copies left out, sorted."""
    return sorted(
        Path(name)
        for name in glob.glob(pattern)
        if not is_rotated(PurePath(name).name) and Path(name).is_file()
    )


def source_of(path: Path, pattern: str) -> str:
    """The `source` label of a file that `pattern` matched (module docstring)."""
    parts = path.parts
    is_cri = len(parts) >= 3 and _RESTART_LOG.fullmatch(path.name) is not None
    if is_cri and (pod := _POD_DIR.fullmatch(parts[-3])) is not None:
        namespace, name = pod.groups()
        return f"{namespace}/{name}/{parts[-2]}"
    if (link := _CONTAINER_LINK.fullmatch(path.name)) is not None:
        pod, namespace, container = link.groups()
        return f"{namespace}/{pod}/{container}"
    if len(parts) >= 2 and _DOCKER_ID.fullmatch(parts[-2]) and path.name.startswith(parts[-2]):
        return parts[-2][:12]
    root = _fixed_root(pattern)
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name


def _fixed_root(pattern: str) -> Path:
    """The folders of `pattern` before its first part with glob characters."""
    root = Path()
    for part in Path(pattern).parent.parts:
        if is_glob(part):
            break
        root /= part
    return root
