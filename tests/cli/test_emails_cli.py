"""`kassa shops language|email` and `kassa emails list`: a shop's receipt e-mail settings and
what became of its e-mails."""

from __future__ import annotations

import json
import secrets

import httpx
from typer.testing import CliRunner

from kassa.services.emails import receipts
from kassa.services.events.consumers import Registry, dispatch
from tests.cli.conftest import invoke
from tests.helpers import checkout, create_payment
from tests.live import LiveServer


def test_a_shops_sender_and_language(kassa: CliRunner) -> None:
    name = f"cli-{secrets.token_hex(4)}"
    invoke(kassa, "shops", "create", name)
    listed = json.loads(invoke(kassa, "shops", "list", "--json").stdout)
    (shop,) = [each for each in listed if each["name"] == name]
    assert (shop["language"], shop["email_from"]) == ("ru", None)

    assert invoke(kassa, "shops", "language", name, "en").exit_code == 0
    sender = invoke(kassa, "shops", "email", name, "My shop <receipts@shop.example>")
    assert sender.exit_code == 0
    assert "sends receipt e-mails from My shop <receipts@shop.example>" in sender.stdout
    listed = json.loads(invoke(kassa, "shops", "list", "--json").stdout)
    (shop,) = [each for each in listed if each["name"] == name]
    assert (shop["language"], shop["email_from"]) == ("en", "My shop <receipts@shop.example>")

    bad = invoke(kassa, "shops", "email", name, "receipts at shop")
    assert bad.exit_code == 1
    assert "is not one e-mail address" in bad.stderr
    assert invoke(kassa, "shops", "language", name, "de").exit_code == 1
    assert invoke(kassa, "shops", "email", name).exit_code == 2  # an address, or --off

    off = invoke(kassa, "shops", "email", name, "--off")
    assert "sends its customers no receipt e-mails" in off.stdout
    listed = json.loads(invoke(kassa, "shops", "list", "--json").stdout)
    assert [each["email_from"] for each in listed if each["name"] == name] == [None]


def test_emails_list_says_why_one_was_skipped(
    kassa: CliRunner, server: LiveServer, api: httpx.Client
) -> None:
    only = Registry()
    only.register(receipts.CONSUMER)
    server.call(dispatch(server.ctx, only))  # the consumer starts reading here
    payment = create_payment(api, customer_email="buyer@example.ru")
    checkout(server, payment, "pay")
    server.call(dispatch(server.ctx, only))
    found = json.loads(invoke(kassa, "emails", "list", "--payment", payment["id"], "--json").stdout)
    assert [(e["recipient"], e["status"], e["error"]) for e in found] == [
        ("buyer@example.ru", "skipped", receipts.NO_SENDER)
    ]
    table = invoke(kassa, "emails", "list", "--payment", payment["id"]).stdout
    assert "skipped" in table
    assert "kassa shops email" in table
