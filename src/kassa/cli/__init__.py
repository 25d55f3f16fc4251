"""The `kassa` command.

`kassa agent` and `kassa club-agent` are dispatched before the hub's commands are imported, so
they run where only `pip install 'kassa[agent]'` (or `'kassa[club-agent]'`) is installed (no
server dependencies) and start quickly.
"""

from __future__ import annotations

import sys
from typing import Any


def main() -> None:
    if sys.argv[1:2] == ["agent"]:
        from kassa.agent.command import app as agent

        agent(args=sys.argv[2:], prog_name="kassa agent")
        return
    if sys.argv[1:2] == ["club-agent"]:
        from kassa.clubagent.command import app as club_agent

        club_agent(args=sys.argv[2:], prog_name="kassa club-agent")
        return
    try:
        from kassa.cli.main import app
    except ImportError as exc:
        sys.exit(
            f"kassa: the hub's commands need the server extra (pip install 'kassa[server]'): "
            f"{exc}. On a kiosk with only the agent extra, run `kassa agent`; on a club PC "
            "with only the club-agent extra, `kassa club-agent`."
        )
    app()


def __getattr__(name: str) -> Any:
    """`kassa.cli.app`, the hub's Typer app, imported when first asked for."""
    if name == "app":
        from kassa.cli.main import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
