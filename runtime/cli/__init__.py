"""The `poolscope` command: one verb per module; `main` dispatches (no verb imports torch
until it runs the model)."""

from runtime.cli.main import main

__all__ = ["main"]
