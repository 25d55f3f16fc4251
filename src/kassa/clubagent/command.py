"""`kassa club-agent`: the club PC's agent. Without options it runs the watchdog, which starts
the UI process and keeps it alive; `--ui-only` runs the UI process here, without a watchdog;
`--check` checks the set-up and exits (docs/club-agent.md). Settings come from the environment
and a `.env` beside the program or in the working directory, for both processes alike.

The `kassa` command dispatches here before importing the hub's command line (`kassa.cli`), so
this runs where only `pip install 'kassa[club-agent]'` is installed.
"""

from __future__ import annotations

import runpy
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from kassa.agentkit.agent import EXIT_CONFIG
from kassa.agentkit.findings import print_report
from kassa.agentkit.logs import configure_logging
from kassa.agentkit.settings import ConfigError
from kassa.clubagent import watchdog
from kassa.clubagent.check import run_checks
from kassa.clubagent.config import load_config

#: The watchdog's daily log files: `kassa-club-watchdog-YYYYMMDD.log` in the data dir's `logs`.
LOG_PREFIX = "kassa-club-watchdog"

app = typer.Typer(
    help="The club PC's agent: the lock screen and launcher, kept alive by a watchdog.",
    add_completion=False,
)


@app.command()
def club_agent(
    check: Annotated[
        bool, typer.Option("--check", help="Check the set-up, print a report and exit.")
    ] = False,
    ui_only: Annotated[
        bool,
        typer.Option("--ui-only", help="Run the lock screen in this process, without a watchdog."),
    ] = False,
) -> None:
    """Run the club PC's agent for the hub at KASSA_HUB_URL with this PC's token
    (KASSA_PC_TOKEN, from `kassa club pcs add`); see docs/club-agent.md."""
    if check:
        raise typer.Exit(print_report("kassa club-agent --check", run_checks()))
    try:
        config = load_config()
    except ConfigError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_CONFIG) from None
    if ui_only:
        runpy.run_module(watchdog.UI_MODULE, run_name="__main__", alter_sys=True)
        return
    configure_logging(config.log_dir, config.log_level, prefix=LOG_PREFIX)
    supervision = watchdog.Supervision(
        data_dir=config.data_dir, in_use=watchdog.session_playing(config.data_dir, config.token)
    )
    raise typer.Exit(watchdog.main(supervision))


def main() -> None:
    app(prog_name="kassa club-agent")
