"""`kassa bot`: a shop's bot configured from the command line, its secrets sealed and masked,
its seeded plans, new plans and promo codes."""

from __future__ import annotations

import json
import secrets

from typer.testing import CliRunner

from tests.cli.conftest import invoke
from tests.helpers import stored_text
from tests.live import LiveServer

TOKEN = "7000000001:AAH-bot-token-never-shown"


def test_configure_seals_and_masks_the_secrets_and_starts_in_test_mode(
    kassa: CliRunner, server: LiveServer
) -> None:
    name = f"bot-{secrets.token_hex(4)}"
    invoke(kassa, "shops", "create", name)
    configured = invoke(
        kassa,
        "bot",
        "configure",
        name,
        f"token={TOKEN}",
        "admins=111, 222",
        "panel=marzban",
        "panel_url=https://panel.example",
        "panel_user=admin",
        "panel_password=pw-never-shown",
        "--json",
    )
    assert configured.exit_code == 0, configured.output
    shown = json.loads(configured.stdout)
    assert shown["token"] == shown["panel_password"] == "••••••"
    assert (shown["test"], shown["admins"], shown["panel"]) == (True, [111, 222], "marzban")
    assert shown["panel_url"] == "https://panel.example"
    invoke(kassa, "bot", "configure", name, "test=false", "language=en")
    table = invoke(kassa, "bot", "show", name).stdout
    assert "en" in table
    assert "False" in table
    for output in (configured.stdout, table):
        assert "never-shown" not in output
    assert "never-shown" not in stored_text(server)


def test_plans_seeded_added_and_disabled(kassa: CliRunner) -> None:
    name = f"bot-{secrets.token_hex(4)}"
    invoke(kassa, "shops", "create", name)
    invoke(kassa, "bot", "configure", name, f"token={TOKEN}")
    seeded = json.loads(invoke(kassa, "bot", "plans", "list", name, "--json").stdout)
    assert [(p["name"], p["days"], p["price"], p["stars"]) for p in seeded] == [
        ("1 month", 30, 10_000, 75),
        ("3 months", 90, 24_900, 185),
        ("6 months", 180, 44_900, 340),
        ("12 months", 365, 99_000, 745),
    ]
    added = invoke(
        kassa,
        "bot",
        "plans",
        "add",
        name,
        "Week",
        "--days",
        "7",
        "--price",
        "39.90",
        "--traffic-gb",
        "50",
        "--devices",
        "2",
    )
    assert added.exit_code == 0, added.output
    assert invoke(kassa, "bot", "plans", "disable", name, "1 month").exit_code == 0
    listed = json.loads(invoke(kassa, "bot", "plans", "list", name, "--json").stdout)
    week = next(p for p in listed if p["name"] == "Week")
    assert (week["price"], week["stars"], week["traffic_gb"], week["devices"]) == (3_990, 30, 50, 2)
    assert [p["active"] for p in listed if p["name"] == "1 month"] == [False]
    twice = invoke(kassa, "bot", "plans", "add", name, "Week", "--days", "7", "--price", "40")
    assert twice.exit_code == 1
    assert "already has a plan" in twice.output
    cheap = invoke(kassa, "bot", "plans", "add", name, "Odd", "--days", "7", "--price", "1.001")
    assert cheap.exit_code == 1


def test_promo_codes_and_refusals(kassa: CliRunner) -> None:
    name = f"bot-{secrets.token_hex(4)}"
    invoke(kassa, "shops", "create", name)
    no_token = invoke(kassa, "bot", "configure", name, "panel=none")
    assert no_token.exit_code == 1
    assert "needs its token" in no_token.output
    bad = invoke(kassa, "bot", "configure", name, f"token={TOKEN}", "panel=xui")
    assert bad.exit_code == 1
    assert "panel is one of" in bad.output
    invoke(kassa, "bot", "configure", name, f"token={TOKEN}")
    days = invoke(kassa, "bot", "promo", "add", name, "spring", "--days", "7", "--uses", "100")
    assert "SPRING" in days.stdout
    listed = invoke(kassa, "bot", "activations", name, "--stuck")
    assert listed.exit_code == 0
    assert "cause" in listed.stdout
    percent = invoke(
        kassa, "bot", "promo", "add", name, "Sale", "--percent", "20", "--until", "2027-01-31"
    )
    assert "20% off" in percent.stdout
    both = invoke(kassa, "bot", "promo", "add", name, "X", "--days", "1", "--percent", "5")
    assert both.exit_code == 1
