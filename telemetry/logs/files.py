"""Reading a log file line by line in constant memory, gzip included, with a progress bar over
the bytes read that tqdm shows only when stderr is a terminal."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

_PROGRESS_EVERY = 4096  # lines between progress-bar updates (tell() is cheap, tqdm less so)


def decompressed(raw: BinaryIO, path: Path) -> BinaryIO:
    """What the open file `raw` holds: gunzipped on the fly when `path` ends in `.gz`, else `raw`
    itself. `raw.tell()` still counts the file's bytes read; closing `raw` ends both."""
    return gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw


def read_lines(path: str | Path, *, progress: bool = True) -> Iterator[str]:
    """The lines of `path` (a `.gz` file is decompressed) without their line ends, decoded as
    UTF-8 with undecodable bytes replaced. Raises OSError (FileNotFoundError, ...) on the first
    next() when the file cannot be opened; the file is closed when the generator is."""
    path = Path(path)
    size = path.stat().st_size
    with (
        open(path, "rb") as raw,
        tqdm(total=size, unit="B", unit_scale=True, file=sys.stderr, leave=False,
             disable=None if progress else True, desc=path.name) as bar,
    ):
        stream = decompressed(raw, path)
        for number, line in enumerate(stream):
            if number % _PROGRESS_EVERY == 0:
                bar.update(raw.tell() - bar.n)
            yield line.decode("utf-8", "replace").rstrip("\r\n")
        bar.update(raw.tell() - bar.n)
