"""The `kassa` command."""

from kassa.cli.main import app, main

__all__ = ["app", "main"]
