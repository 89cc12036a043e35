"""The argument parser every `poolscope` verb is built on.

argparse hands the arguments after a verb to that verb's parser, which collects the ones it does
not know and passes them back up; the top-level parser then reports them under its own usage,
which names no verb flag. Here a verb's parser reports them itself, with its own usage line.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser whose sub-commands reject unknown arguments with their own usage."""

    is_subcommand = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras and self.is_subcommand:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras

    def add_subparsers(self, **kwargs: object) -> argparse._SubParsersAction:  # type: ignore[override]
        kwargs.setdefault("parser_class", _SubcommandParser)
        return super().add_subparsers(**kwargs)  # type: ignore[arg-type]


class _SubcommandParser(CommandParser):
    is_subcommand = True
