"""`kassa club set`, `kassa club staff-pin` and the PC settings of `kassa club create`: what the
club's PCs then see and accept."""

from __future__ import annotations

import json
import secrets

import httpx
from typer.testing import CliRunner

from kassa.cli import app
from kassa.services.club import clubs
from tests.cli.conftest import invoke
from tests.club.pc import add_pc
from tests.club.pc_api import pc_client
from tests.live import LiveServer


def club_json(kassa: CliRunner, name: str) -> dict[str, object]:
    listed = json.loads(invoke(kassa, "club", "list", "--json").stdout)
    found: dict[str, object] = next(each for each in listed if each["name"] == name)
    return found


def test_a_club_is_created_and_set_for_its_pcs(kassa: CliRunner, server: LiveServer) -> None:
    shop, name = f"s-{secrets.token_hex(4)}", f"club-{secrets.token_hex(4)}"
    invoke(kassa, "shops", "create", shop)
    made = invoke(kassa, "club", "create", shop, name, "--language", "en", "--test")
    assert made.exit_code == 0, made.output
    assert "language en, top-ups test" in made.stdout
    shown = club_json(kassa, name)
    assert (shown["language"], shown["test"], shown["lease_max"]) == ("en", True, 300)

    changed = invoke(
        kassa, "club", "set", name, "--language", "ru", "--live", "--lease-max", "120",
        "--offline-policy", "continue", "--json",
    )  # fmt: skip
    assert changed.exit_code == 0, changed.output
    document = json.loads(changed.stdout)
    assert (document["language"], document["test"]) == ("ru", False)
    assert (document["lease_max"], document["offline_policy"]) == (120, "continue")
    kept = invoke(kassa, "club", "set", name, "--test")
    assert kept.exit_code == 0, kept.output
    shown = club_json(kassa, name)
    assert (shown["language"], shown["test"], shown["lease_max"]) == ("ru", True, 120)

    wrong = invoke(kassa, "club", "set", name, "--language", "de")
    assert wrong.exit_code != 0
    assert "ru or en" in wrong.output
    bad = invoke(kassa, "club", "create", shop, f"{name}-2", "--language", "fr")
    assert bad.exit_code != 0


def test_the_staff_pin_is_set_from_the_command_line_and_opens_the_pcs_panel(
    kassa: CliRunner, server: LiveServer
) -> None:
    shop, name = f"s-{secrets.token_hex(4)}", f"club-{secrets.token_hex(4)}"
    invoke(kassa, "shops", "create", shop)
    assert invoke(kassa, "club", "create", shop, name).exit_code == 0
    assert invoke(kassa, "club", "zones", "add", name, "Standard").exit_code == 0
    club = server.call(clubs.get(server.ctx, name=name))
    pc: httpx.Client = pc_client(server, add_pc(server, club))

    typed = kassa.invoke(
        app,
        ["club", "staff-pin", name],
        input="482193\n482193\n",
    )
    assert typed.exit_code == 0, typed.output
    assert "482193" not in typed.output  # typed unseen
    assert pc.post("/club/pc/staff", json={"pin": "482193"}).status_code == 200

    piped = kassa.invoke(
        app,
        ["club", "staff-pin", name, "--pin-stdin"],
        input="1234\n",
    )
    assert piped.exit_code == 0, piped.output
    assert pc.post("/club/pc/staff", json={"pin": "1234"}).status_code == 200
    assert pc.post("/club/pc/staff", json={"pin": "482193"}).status_code == 401

    short = kassa.invoke(
        app,
        ["club", "staff-pin", name, "--pin-stdin"],
        input="12\n",
    )
    assert short.exit_code != 0
    assert "4 to 12 digits" in short.output
    pc.close()
