"""`kassa club sessions` and `kassa club pcs action`: a session started and ended from the
command line, and a remote action queued for a PC, as staff at the desk would."""

from __future__ import annotations

import json
import secrets

from typer.testing import CliRunner

from tests.cli.conftest import invoke


def test_staff_start_list_and_end_a_session_and_lock_a_pc(kassa: CliRunner) -> None:
    shop, club = f"s-{secrets.token_hex(4)}", f"club-{secrets.token_hex(4)}"
    for args in (
        ("shops", "create", shop),
        ("club", "create", shop, club, "--currency", "KZT", "--timezone", "Asia/Almaty"),
        ("club", "zones", "add", club, "Standard"),
        ("club", "pcs", "add", club, "PC-07", "--zone", "Standard"),
        ("club", "tariffs", "set", club, "Standard", "--per-minute", "10"),
        ("club", "customers", "add", club, "arman", "--password", "pw-secret"),
        ("club", "topup", club, "arman", "1500", "--cash"),
    ):
        assert invoke(kassa, *args).exit_code == 0, args

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
