"""`kassa club`: a club set up from the command line as an owner would, amounts in tenge, the
PC's token printed once and alone on stdout, and the ledger as it was written."""

from __future__ import annotations

import json
import secrets

import jwt
from typer.testing import CliRunner

from tests.cli.conftest import invoke


def test_an_owner_sets_up_a_club_and_serves_a_customer(kassa: CliRunner) -> None:
    shop, club = f"s-{secrets.token_hex(4)}", f"club-{secrets.token_hex(4)}"
    invoke(kassa, "shops", "create", shop)
    made = invoke(
        kassa, "club", "create", shop, club, "--currency", "KZT", "--timezone", "Asia/Almaty"
    )
    assert made.exit_code == 0, made.output
    for zone in ("Standard", "VIP"):
        assert invoke(kassa, "club", "zones", "add", club, zone).exit_code == 0
    zones = json.loads(invoke(kassa, "club", "zones", "list", club, "--json").stdout)
    assert [zone["name"] for zone in zones] == ["Standard", "VIP"]
    added = invoke(kassa, "club", "pcs", "add", club, "PC-01", "--zone", "VIP", "--alias", "ПК-1")
    assert added.exit_code == 0, added.output
    token = added.stdout.strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["kiosk_id"], claims["kind"]) == ("PC-01", "club_pc")
    assert "Shown once" in added.stderr
    pcs = json.loads(invoke(kassa, "club", "pcs", "list", club, "--json").stdout)
    assert [(pc["name"], pc["alias"], pc["zone"], pc["online"]) for pc in pcs] == [
        ("PC-01", "ПК-1", "VIP", False)
    ]
    revoked = invoke(kassa, "club", "pcs", "revoke", club, "PC-01")
    assert jwt.decode(revoked.stdout.strip(), options={"verify_signature": False})["ver"] == 2

    assert (
        invoke(
            kassa,
            "club",
            "customers",
            "add",
            club,
            "arman",
            "--password",
            "pw-secret",
            "--name",
            "Arman",
        ).exit_code
        == 0
    )
    assert invoke(kassa, "club", "topup", club, "arman", "1500", "--cash").exit_code == 0
    assert invoke(kassa, "club", "tariffs", "set", club, "VIP", "--per-minute", "10").exit_code == 0
    assert (
        invoke(
            kassa, "club", "packages", "add", club, "1 час", "--seconds", "3600", "--price", "350"
        ).exit_code
        == 0
    )
    bought = invoke(kassa, "club", "buy", club, "arman", "1 час")
    assert "balance 1150.00 KZT" in bought.stdout
    assert invoke(kassa, "club", "time", club, "arman", "600", "--reason", "gift").exit_code == 0
    corrected = invoke(
        kassa, "club", "correct", club, "arman", "--reason", "miscount", "--", "-100.50"
    )
    assert "balance 1049.50 KZT, time bank 0:10:00" in corrected.stdout
    entries = json.loads(invoke(kassa, "club", "ledger", club, "arman", "--json").stdout)
    assert [(e["kind"], e["amount"], e["seconds"], e["reason"]) for e in entries] == [
        ("correction", "-100.50", 0, "miscount"),
        ("correction", "0.00", 600, "gift"),
        ("purchase", "-350.00", 0, "1 час"),
        ("topup", "1500.00", 0, None),
    ]
    preview = json.loads(
        invoke(kassa, "club", "preview", club, "arman", "--zone", "VIP", "--minutes", "90").stdout
    )
    assert [(use["source"], use["seconds"], use["amount"]) for use in preview["uses"]] == [
        ("package", 3600, "0.00"),
        ("time_bank", 600, "0.00"),
        ("balance", 1200, "200.00"),
    ]
    assert (
        invoke(
            kassa,
            "club",
            "apps",
            "add",
            club,
            "Dota 2",
            r"C:\Games\dota2.exe",
            "--kind",
            "game",
            "--zone",
            "VIP",
        ).exit_code
        == 0
    )
    listed = json.loads(invoke(kassa, "club", "apps", "list", club, "--json").stdout)
    assert listed == [
        {
            "object": "club_app",
            "name": "Dota 2",
            "path": r"C:\Games\dota2.exe",
            "kind": "game",
            "icon": None,
            "zones": ["VIP"],
        }
    ]
    assert invoke(kassa, "club", "customers", "block", club, "arman").exit_code == 0
    shown = json.loads(invoke(kassa, "club", "customers", "list", club, "--json").stdout)
    assert [(c["login"], c["balance"], c["time_bank"], c["status"]) for c in shown] == [
        ("arman", "1049.50", 600, "blocked")
    ]


def test_clear_errors(kassa: CliRunner) -> None:
    shop, club = f"s-{secrets.token_hex(4)}", f"club-{secrets.token_hex(4)}"
    invoke(kassa, "shops", "create", shop)
    invoke(kassa, "club", "create", shop, club)
    again = invoke(kassa, "club", "create", shop, club)
    assert again.exit_code == 1
    assert "already" in again.stderr
    invoke(kassa, "club", "customers", "add", club, "dana", "--password", "pw-secret")
    cheap = invoke(kassa, "club", "topup", club, "dana", "10.001", "--cash")
    assert cheap.exit_code == 1
    assert "decimal places" in cheap.stderr
    nocash = invoke(kassa, "club", "topup", club, "dana", "10")
    assert nocash.exit_code == 2
    assert "--cash" in nocash.stderr
    over = invoke(kassa, "club", "correct", club, "dana", "--reason", "x", "--", "-1")
    assert over.exit_code == 1
    assert "does not cover" in over.stderr
    window = invoke(
        kassa,
        "club",
        "packages",
        "add",
        club,
        "Night",
        "--seconds",
        "3600",
        "--price",
        "1",
        "--window",
        "23:00",
    )
    assert window.exit_code == 1
    assert "23:00-08:00" in window.stderr
    unknown = invoke(kassa, "club", "zones", "add", "no-such-club", "VIP")
    assert unknown.exit_code == 1
    assert "No club" in unknown.stderr
