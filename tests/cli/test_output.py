"""What the CLI prints for people and for scripts: ids whole in an 80-column terminal and in a
pipe, `--json` on every list and show command, and `kassa serve --new-key`."""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

from kassa.cli import app
from kassa.cli.output import confirmation_rows
from tests.cli.conftest import invoke
from tests.helpers import ShopSetup, create_payment
from tests.live import LiveServer, serve_process

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
KEY = re.compile(r"sk_test_[A-Za-z0-9]{32}")
#: A public address (nothing is sent to it: the test server runs no background loop).
HOOK_URL = "https://93.184.215.14/kassa-hook"


@pytest.fixture
def narrow(database_url: str, server: LiveServer) -> CliRunner:
    """`kassa …` writing into a pipe, as Rich sees one: 80 columns."""
    return CliRunner(
        env={"KASSA_DATABASE_URL": database_url, "KASSA_PUBLIC_URL": server.url, "COLUMNS": "80"}
    )


def payments_with_long_cells(api: httpx.Client) -> list[str]:
    """Payments whose customer and description make the table wider than 80 columns."""
    return [
        create_payment(
            api,
            customer=f"customer-with-a-long-reference-{n}@example.com",
            description="An order with a description long enough to need wrapping " * 2,
        )["id"]
        for n in range(3)
    ]


def test_ids_are_whole_in_80_columns(narrow: CliRunner, shop: ShopSetup, api: httpx.Client) -> None:
    ids = payments_with_long_cells(api)
    listed = invoke(narrow, "payments", "list", "--shop", shop.name)
    assert listed.exit_code == 0, listed.output
    for payment_id in ids:
        assert payment_id in listed.stdout  # on one line, not `pay_01m9…` nor folded
        shown = invoke(narrow, "payments", "show", payment_id)
        assert payment_id in shown.stdout
        (event_id,) = re.findall(r"evt_\w+", shown.stdout)
        assert len(event_id) == len(ids[0]), shown.stdout
    # The other columns keep their narrowest width (8) rather than give way to the ids.
    rows = [line for line in listed.stdout.splitlines() if "pay_" in line]
    assert all("pending" in row and "sandbox" in row for row in rows), listed.stdout
    keys = invoke(narrow, "keys", "list", shop.name).stdout
    (key_id,) = re.findall(r"key_\w+", keys)
    assert invoke(narrow, "keys", "revoke", key_id).exit_code == 0  # pasted as printed
    assert shop.shop.id in invoke(narrow, "shops", "list").stdout
    assert shop.sandbox.id in invoke(narrow, "providers", "list", shop.name).stdout


def test_ids_are_whole_in_an_80_column_terminal(
    database_url: str, server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    ids = payments_with_long_cells(api)
    controller, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES"}}
    env.update(KASSA_DATABASE_URL=database_url, TERM="xterm-256color")
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "kassa", "payments", "list", "--shop", shop.name],
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            env=env,
        )
        os.close(terminal)
        screen = b""
        while chunk := _read(controller):
            screen += chunk
        assert process.wait(timeout=30) == 0, screen
    finally:
        os.close(controller)
    text = ANSI.sub("", screen.decode())
    for payment_id in ids:
        assert payment_id in text, text


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # the terminal closed: the process has exited
        return b""


def test_every_list_and_show_command_prints_json(
    narrow: CliRunner, shop: ShopSetup, api: httpx.Client
) -> None:
    payment = create_payment(api, description="Order 7 " + "x" * 120)
    assert invoke(narrow, "terminals", "add", shop.name, "KIOSK_1").exit_code == 0
    added = invoke(narrow, "webhooks", "add", shop.name, HOOK_URL)
    assert added.exit_code == 0, added.output
    (endpoint_id,) = set(re.findall(r"we_\w+", added.stdout))

    def as_json(*args: str) -> Any:
        result = invoke(narrow, *args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)  # whole: long strings are not wrapped at 80

    assert shop.shop.id in {s["id"] for s in as_json("shops", "list")}
    (key,) = as_json("keys", "list", shop.name)
    assert shop.key.startswith(key["prefix"])
    assert shop.key not in json.dumps(key)
    accounts = as_json("providers", "list", shop.name)
    assert shop.sandbox.id in {account["id"] for account in accounts}
    assert shop.secret not in json.dumps(accounts)
    (listed,) = as_json("payments", "list", "--shop", shop.name)
    assert listed == payment
    shown = as_json("payments", "show", payment["id"])
    assert shown["description"] == payment["description"]
    assert [event["type"] for event in shown["events"]] == ["payment.created"]
    (endpoint,) = as_json("webhooks", "list", shop.name)
    assert (endpoint["id"], endpoint["url"]) == (endpoint_id, HOOK_URL)
    assert "secret" not in endpoint
    assert as_json("webhooks", "deliveries", endpoint_id) == []
    (terminal,) = as_json("terminals", "list", "--shop", shop.name)
    assert (terminal["id"], terminal["shop"], terminal["online"]) == ("KIOSK_1", shop.name, False)
    assert as_json("terminals", "show", "KIOSK_1", "--shop", shop.name)["operations"] == []
    assert all(user["object"] == "admin_user" for user in as_json("admin", "users"))


def test_no_list_or_show_command_lacks_json() -> None:
    """A new list or show command gets `--json` too."""
    found = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if hasattr(command, "commands"):  # a group
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
        elif path[-1] in {"list", "show", "users", "deliveries"}:
            found.append(path)
            assert "--json" in {o for p in command.params for o in p.opts}, path

    walk(typer.main.get_command(app), ())
    assert len(found) >= 10


def test_serve_new_key_without_demo_needs_one_shop(tmp_path: Path) -> None:
    runner = CliRunner(env={"KASSA_DATA_DIR": str(tmp_path), "KASSA_DATABASE_URL": None})

    def serve_new_key() -> subprocess.CompletedProcess[str]:
        # A process of its own, with a deadline: were the option ignored, it would serve on.
        env = {**os.environ, "KASSA_DATA_DIR": str(tmp_path), "KASSA_PORT": "9"}
        env.pop("KASSA_DATABASE_URL", None)
        command = [sys.executable, "-m", "kassa", "serve", "--new-key"]
        return subprocess.run(
            command, check=False, env=env, capture_output=True, text=True, timeout=60
        )

    none = serve_new_key()
    assert none.returncode == 2
    assert "it has none" in none.stderr
    assert "kassa keys create SHOP" in _words(none.stderr)
    assert invoke(runner, "shops", "create", "first").exit_code == 0
    assert invoke(runner, "shops", "create", "second").exit_code == 0
    several = serve_new_key()
    assert several.returncode == 2
    assert "it has 2 (first, second)" in _words(several.stderr)
    assert "--demo" in several.stderr
    assert not KEY.search(several.stdout + several.stderr)


def _words(text: str) -> str:
    """`text` with its line breaks (Rich wraps messages at 80 columns) as spaces."""
    return " ".join(text.split())


def test_serve_new_key_prints_a_key_for_the_only_shop(tmp_path: Path) -> None:
    name = f"solo-{secrets.token_hex(3)}"
    runner = CliRunner(env={"KASSA_DATA_DIR": str(tmp_path), "KASSA_DATABASE_URL": None})
    assert invoke(runner, "shops", "create", name).exit_code == 0
    with serve_process(tmp_path, "--new-key") as served:
        (key,) = set(KEY.findall(served.text))
        assert f"Test API key for shop {name}" in served.text
        answer = httpx.get(f"{served.base}/v1/payments", headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200, answer.text


def test_a_confirmation_shows_every_field_the_payer_needs() -> None:
    requisites = {
        "type": "requisites",
        "amount": 150037,
        "currency": "RUB",
        "pan": "2200700112345678",
        "phone": None,
        "bank": "T-Bank",
        "holder": "Ivan I.",
        "expires_at": "2026-11-22T06:40:00Z",
        "url": None,
    }
    assert confirmation_rows(requisites) == [
        ("confirmation", "requisites"),
        ("  amount", "1500.37 RUB"),
        ("  pan", "2200700112345678"),
        ("  bank", "T-Bank"),
        ("  holder", "Ivan I."),
        ("  expires_at", "2026-11-22T06:40:00Z"),
    ]
    crypto = {"type": "crypto_transfer", "address": "T1", "amount": "10.000137", "asset": "USDT"}
    assert ("  amount", "10.000137") in confirmation_rows(crypto)  # as the wallet takes it
    widget = {"type": "widget", "script": "https://w.example/w.js", "params": {"a": 1}}
    assert ("  params", '{"a": 1}') in confirmation_rows(widget)
