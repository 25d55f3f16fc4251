"""`kassa club topup --online`: a payment whose link (or QR data) is printed for the customer,
through the shop's sandbox in test mode; refused clearly in live mode with no provider."""

from __future__ import annotations

import json
import secrets

from typer.testing import CliRunner

from tests.cli.conftest import invoke


def test_an_online_topup_from_the_command_line(kassa: CliRunner) -> None:
    shop, club = f"s-{secrets.token_hex(4)}", f"club-{secrets.token_hex(4)}"
    invoke(kassa, "shops", "create", shop)
    invoke(kassa, "club", "create", shop, club, "--currency", "KZT", "--timezone", "Asia/Almaty")
    invoke(kassa, "club", "customers", "add", club, "arman", "--password", "pw-arman")

    made = invoke(kassa, "club", "topup", club, "arman", "1500", "--online", "--test")
    assert made.exit_code == 0, made.output
    assert "1500.00 KZT" in made.stdout
    assert "sandbox" in made.stdout
    assert "/sandbox/checkout/" in made.stdout, made.stdout  # the link the customer opens
    assert "credited once the payment succeeds" in made.stderr
    listed = json.loads(invoke(kassa, "club", "topups", club, "--json").stdout)
    assert [(t["customer"], t["amount"], t["status"]) for t in listed] == [
        ("arman", "1500.00", "pending")
    ]

    live = invoke(kassa, "club", "topup", club, "arman", "1500", "--online")
    assert live.exit_code == 1
    assert "no enabled provider account in live mode" in live.stderr
    mixed = invoke(kassa, "club", "topup", club, "arman", "1500", "--cash", "--test")
    assert mixed.exit_code == 2
    customer = json.loads(invoke(kassa, "club", "customers", "list", club, "--json").stdout)
    assert [c["balance"] for c in customer] == ["0.00"]  # nothing is credited before it is paid
