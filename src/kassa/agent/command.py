"""`kassa agent` (and `python -m kassa.agent`): run the kiosk edge agent, or check its set-up
with `--check`.

The `kassa` command mounts this app (`kassa.cli`); it lives here, beside the agent, so that the
agent never imports the hub's command line. It needs only Typer and Rich (both in the `agent`
extra) besides the agent itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from kassa.agent.check import run_checks
from kassa.agent.config import ConfigError, find_env_file, load_config
from kassa.agent.runner import run_agent
from kassa.agentkit.agent import EXIT_CONFIG
from kassa.agentkit.findings import print_report

app = typer.Typer(
    help="The kiosk edge agent: connects to the hub and runs its operations locally.",
    add_completion=False,
)

errors = Console(stderr=True)


@app.command()
def agent(
    check: Annotated[
        bool, typer.Option("--check", help="Check the set-up, print a report and exit.")
    ] = False,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            help="Read settings from this file instead of the first .env found in the working "
            "directory, /etc/kassa-agent/ or ~/.kassa-agent/.",
        ),
    ] = None,
) -> None:
    """Connect to the hub (KASSA_HUB_URL) with the terminal's token (KASSA_TERMINAL_TOKEN)
    and run its operations against the local services; see docs/agent.md."""
    if check:
        raise typer.Exit(_report(env_file))
    try:
        config = load_config(find_env_file(env_file))
    except ConfigError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_CONFIG) from None
    raise typer.Exit(run_agent(config))


def _report(env_file: Path | None) -> int:
    return print_report("kassa agent --check", run_checks(env_file))


def main() -> None:
    app(prog_name="kassa agent")
