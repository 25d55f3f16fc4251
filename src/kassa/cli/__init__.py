"""The `kassa` command.

`kassa agent` is dispatched before the hub's commands are imported, so it runs where only
`pip install 'kassa[agent]'` is installed (no server dependencies) and starts quickly.
"""

from __future__ import annotations

import sys
from typing import Any


def main() -> None:
    if sys.argv[1:2] == ["agent"]:
        from kassa.agent.command import app as agent

        agent(args=sys.argv[2:], prog_name="kassa agent")
        return
    try:
        from kassa.cli.main import app
    except ImportError as exc:
        sys.exit(
            f"kassa: the hub's commands need the server extra (pip install 'kassa[server]'): "
            f"{exc}. On a kiosk with only the agent extra, run `kassa agent`."
        )
    app()


def __getattr__(name: str) -> Any:
    """`kassa.cli.app`, the hub's Typer app, imported when first asked for."""
    if name == "app":
        from kassa.cli.main import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
