"""`kassa audit`: check the invariants money depends on; non-zero exit on any finding."""

from __future__ import annotations

import typer
from rich.markup import escape

from kassa.cli.output import JsonOption, console, fail, id_column, print_json, run, show, table
from kassa.config import Settings
from kassa.services.events import consumers
from kassa.services.operations import integrity


def audit(as_json: JsonOption = False) -> None:
    """Check the invariants money depends on and print what breaks them: each status a
    payment reached has its one event, refunded ≤ captured ≤ amount, refunds add up, each
    event consumer's receipt matches its effect, each webhook delivery its attempts. Exits 1
    on any finding, so it can run nightly."""
    try:
        consumers.load(Settings().consumers)  # their own checks of their effects
    except ValueError as exc:
        raise fail(f"KASSA_CONSUMERS: {exc}") from None
    reports = run(integrity.audit)
    if as_json:
        print_json(
            {
                "ok": all(report.ok for report in reports),
                "checks": [
                    {
                        "name": report.check.name,
                        "invariant": report.check.invariant,
                        "ok": report.ok,
                        "total": report.total,
                        "findings": [
                            {"subject": found.subject, "problem": found.problem}
                            for found in report.findings
                        ],
                    }
                    for report in reports
                ],
            }
        )
    else:
        _print(reports)
    if not all(report.ok for report in reports):
        raise typer.Exit(1)


def _print(reports: list[integrity.Report]) -> None:
    for report in reports:
        check = report.check
        if report.ok:
            console.print(f"[green]ok[/]     {check.name}: {escape(check.invariant)}")
            continue
        console.print(f"[bold red]BROKEN[/] {check.name}: {escape(check.invariant)}")
        found = table(id_column("subject"), "problem", box=None, padding=(0, 1, 0, 7))
        for finding in report.findings:
            found.add_row(finding.subject, escape(finding.problem))
        show(found)
        hidden = report.total - len(report.findings)
        if hidden:
            console.print(f"       … and {hidden} more")
    broken = sum(report.total for report in reports)
    if broken:
        console.print(f"[bold red]{broken} finding{'s' if broken != 1 else ''}[/]")
