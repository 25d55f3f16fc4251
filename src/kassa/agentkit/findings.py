"""An agent's `--check` (`kassa agent --check`, `kassa club-agent --check`): everything it
needs, checked once, each problem a row of one report so the operator sees them all at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from rich.console import Console
from rich.markup import escape
from rich.table import Table


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Finding:
    name: str
    status: Status
    detail: str


_STYLE = {Status.OK: "green", Status.WARN: "yellow", Status.FAIL: "bold red"}


def print_report(title: str, findings: Sequence[Finding]) -> int:
    """The findings as a table on stdout, the verdict after it: 1 if any failed, else 0."""
    table = Table("Check", "", "Detail", title=title)
    for finding in findings:
        style = _STYLE[finding.status]
        table.add_row(finding.name, f"[{style}]{finding.status}[/]", escape(finding.detail))
    Console().print(table)
    failed = sum(finding.status is Status.FAIL for finding in findings)
    if failed:
        Console(stderr=True).print(f"[bold red]{failed} check(s) failed[/]")
        return 1
    Console().print("[green]All checks passed.[/]")
    return 0
