"""Optional dependencies: a verb that needs one says which extra installs it, in one line.

    require_extra("matplotlib", "plot", "poolscope logs plot")

Serving needs none of them, so the Docker image and `pip install poolscope` leave them out.
"""

from __future__ import annotations

import importlib


class MissingExtra(ValueError):
    """An optional dependency is not installed. A ValueError, so that every CLI verb's one-line
    `poolscope: error:` handling reports it without a traceback."""


def require_extra(module: str, extra: str, purpose: str) -> None:
    """Imports `module`, or raises MissingExtra naming the pip extra that installs it."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(
            f"{purpose} needs {module}, which is not installed: "
            f"pip install 'poolscope[{extra}]' (or {module} itself)"
        ) from exc
