"""The `kassa` command.

`kassa agent` and `kassa club-agent` are dispatched before the hub's commands are imported, so
they run where only `pip install 'kassa[agent]'` (or `'kassa[club-agent]'`) is installed (no
server dependencies) and start quickly.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

#: The agents on devices, each run without the hub's dependencies: the command's word, the
#: module of its Typer `app`, and the extra that installs it.
AGENTS = {
    "agent": ("kassa.agent.command", "agent"),
    "club-agent": ("kassa.clubagent.command", "club-agent"),
}


def run_agent(name: str, args: list[str]) -> None:
    """Run the agent `name` (a key of `AGENTS`) with `args`; ImportError without its extra."""
    module, _ = AGENTS[name]
    importlib.import_module(module).app(args=args, prog_name=f"kassa {name}")


def main() -> None:
    if sys.argv[1:2] and sys.argv[1] in AGENTS:
        run_agent(sys.argv[1], sys.argv[2:])
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
