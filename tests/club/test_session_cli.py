"""`kassa club sessions` and `kassa club pcs action`: a session started, extended, paused,
resumed, moved and ended from the command line, and a remote action queued for a PC, as staff
at the desk would."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from typer.testing import CliRunner

from tests.cli.conftest import invoke


def open_club(kassa: CliRunner, *more: tuple[str, ...]) -> str:
    """A new club with PC-07 in its Standard zone at 10 KZT a minute and the customer arman
    with 1500 KZT, then `more` commands run in it (`{club}` in them is its name)."""
    shop, club = f"s-{secrets.token_hex(4)}", f"club-{secrets.token_hex(4)}"
    for args in (
        ("shops", "create", shop),
        ("club", "create", shop, club, "--currency", "KZT", "--timezone", "Asia/Almaty"),
        ("club", "zones", "add", club, "Standard"),
        ("club", "pcs", "add", club, "PC-07", "--zone", "Standard"),
        ("club", "tariffs", "set", club, "Standard", "--per-minute", "10"),
        ("club", "customers", "add", club, "arman", "--password", "pw-secret"),
        ("club", "topup", club, "arman", "1500", "--cash"),
        *(tuple(word.format(club=club) for word in args) for args in more),
    ):
        assert invoke(kassa, *args).exit_code == 0, args
    return club


def test_staff_start_list_and_end_a_session_and_lock_a_pc(kassa: CliRunner) -> None:
    club = open_club(kassa)

    started = invoke(kassa, "club", "sessions", "start", club, "PC-07", "arman", "--minutes", "30")
    assert started.exit_code == 0, started.output
    assert "0:30:00 left" in started.stdout
    again = invoke(kassa, "club", "sessions", "start", club, "PC-07", "arman", "--minutes", "5")
    assert again.exit_code == 1
    assert "has a session already" in again.output
    listed = json.loads(invoke(kassa, "club", "sessions", "list", club, "--json").stdout)
    assert [(each["pc"], each["customer"], each["state"]) for each in listed] == [
        ("PC-07", "arman", "active")
    ]

    locked = invoke(kassa, "club", "pcs", "action", club, "PC-07", "lock")
    assert locked.exit_code == 0, locked.output
    assert "lock for PC-07: queued" in locked.stdout
    actions = json.loads(invoke(kassa, "club", "pcs", "actions", club, "PC-07", "--json").stdout)
    assert [(each["action"], each["state"]) for each in actions][:2] == [
        ("lock", "queued"),
        ("unlock", "queued"),
    ]

    ended = invoke(kassa, "club", "sessions", "end", club, "PC-07")
    assert ended.exit_code == 0, ended.output
    assert "ended" in ended.stdout
    ledger = json.loads(invoke(kassa, "club", "ledger", club, "arman", "--json").stdout)
    kinds = [entry["kind"] for entry in ledger]
    assert kinds[:2] == ["correction", "session_charge"]
    assert invoke(kassa, "club", "sessions", "end", club, "PC-07").exit_code == 1


def changed(kassa: CliRunner, *args: str) -> dict[str, Any]:
    """`kassa club sessions ARGS --json`: the session as the API has it."""
    result = invoke(kassa, "club", "sessions", *args, "--json")
    assert result.exit_code == 0, result.output
    session: dict[str, Any] = json.loads(result.stdout)
    assert session["object"] == "club_session"
    return session


def after(later: dict[str, Any], earlier: dict[str, Any]) -> float:
    """How many seconds `later`'s paid time reaches beyond `earlier`'s."""
    until = datetime.fromisoformat(later["paid_until"]) - datetime.fromisoformat(
        earlier["paid_until"]
    )
    return until.total_seconds()


def entries(kassa: CliRunner, club: str) -> list[tuple[str, str, int, str | None]]:
    found = json.loads(invoke(kassa, "club", "ledger", club, "arman", "--json").stdout)
    return [(each["kind"], each["amount"], each["seconds"], each["reason"]) for each in found]


def test_staff_extend_pause_resume_and_move_a_session(kassa: CliRunner) -> None:
    club = open_club(
        kassa,
        ("club", "pcs", "add", "{club}", "PC-08", "--zone", "Standard"),
        ("club", "packages", "add", "{club}", "1 час", "--seconds", "3600", "--price", "350"),
    )
    started = changed(kassa, "start", club, "PC-07", "arman", "--minutes", "30")

    extended = invoke(kassa, "club", "sessions", "extend", club, "PC-07", "--minutes", "15")
    assert extended.exit_code == 0, extended.output
    assert f"Session {started['id']} extended on PC-07 for arman: active" in extended.stdout
    (by_minutes,) = json.loads(invoke(kassa, "club", "sessions", "list", club, "--json").stdout)
    assert (by_minutes["charged_seconds"], after(by_minutes, started)) == (45 * 60, 15 * 60)
    assert entries(kassa, club)[0][:3] == ("session_charge", "-150.00", 0)

    by_package = changed(kassa, "extend", club, "PC-07", "--package", "1 час")
    assert (by_package["charged_seconds"], after(by_package, by_minutes)) == (105 * 60, 3600)
    assert [entry[:2] for entry in entries(kassa, club)[:2]] == [
        ("session_charge", "0.00"),  # the package's hour, bought just before
        ("purchase", "-350.00"),
    ]

    paused = changed(kassa, "pause", club, "PC-07")
    assert (paused["state"], paused["lease"]["session"]) == ("paused", None)
    assert 105 * 60 - 60 < paused["seconds_left"] <= 105 * 60
    resumed = changed(kassa, "resume", club, "PC-07")
    assert (resumed["state"], resumed["lease"]["session"]) == ("active", started["id"])
    assert resumed["seconds_left"] == paused["seconds_left"]  # the break cost nothing

    moved = invoke(kassa, "club", "sessions", "move", club, "PC-07", "--to", "PC-08")
    assert moved.exit_code == 0, moved.output
    assert f"Session {started['id']} moved to PC-08 for arman: active" in moved.stdout
    listed = json.loads(invoke(kassa, "club", "sessions", "list", club, "--json").stdout)
    assert [(each["id"], each["pc"], each["state"]) for each in listed] == [
        (started["id"], "PC-08", "active")
    ]
    told = {
        pc: json.loads(invoke(kassa, "club", "pcs", "actions", club, pc, "--json").stdout)[0]
        for pc in ("PC-07", "PC-08")
    }
    assert {pc: action["action"] for pc, action in told.items()} == {
        "PC-07": "end_session",
        "PC-08": "unlock",
    }
    ended = changed(kassa, "end", club, "PC-08")
    assert (ended["state"], ended["pc"], ended["end_reason"]) == ("ended", "PC-08", "staff")


def test_session_commands_say_what_is_wrong(kassa: CliRunner) -> None:
    club = open_club(
        kassa,
        ("club", "pcs", "add", "{club}", "PC-08", "--zone", "Standard"),
        ("club", "customers", "add", "{club}", "dana", "--password", "pw-secret"),
        ("club", "topup", "{club}", "dana", "500", "--cash"),
        ("club", "sessions", "start", "{club}", "PC-08", "dana", "--minutes", "10"),
    )

    def refused(*args: str, code: int = 1) -> str:
        result = invoke(kassa, "club", "sessions", *args)
        assert result.exit_code == code, result.output
        assert result.stdout == ""
        return result.stderr

    for args in (
        ("extend", club, "PC-07", "--minutes", "5"),
        ("pause", club, "PC-07"),
        ("resume", club, "PC-07"),
        ("move", club, "PC-07", "--to", "PC-09"),
    ):
        assert f"error: No session is running for PC 'PC-07' in club {club}" in refused(*args)
    assert "--minutes or --package" in refused("extend", club, "PC-08", code=2)
    assert "--minutes or --package" in refused(
        "extend", club, "PC-08", "--minutes", "5", "--package", "1 час", code=2
    )

    assert invoke(kassa, "club", "sessions", "start", club, "PC-07", "arman").exit_code == 0
    assert changed(kassa, "pause", club, "PC-07")["state"] == "paused"
    assert "The session is paused already" in refused("pause", club, "PC-07")
    assert changed(kassa, "resume", club, "PC-07")["state"] == "active"
    assert "The session is not paused" in refused("resume", club, "PC-07")
    assert "PC 'PC-08' has a session already" in refused("move", club, "PC-07", "--to", "PC-08")
    assert f"Club {club} has no PC 'PC-09'" in refused("move", club, "PC-07", "--to", "PC-09")
    listed = json.loads(invoke(kassa, "club", "sessions", "list", club, "--json").stdout)
    assert sorted((each["pc"], each["customer"]) for each in listed) == [
        ("PC-07", "arman"),
        ("PC-08", "dana"),
    ]
