"""`kassa webhooks …`: add, list, rotate, resend, enable, deliveries, remove; clear errors."""

from __future__ import annotations

import re

import httpx
from typer.testing import CliRunner

from tests.cli.conftest import invoke
from tests.helpers import ShopSetup, create_payment, make_shop
from tests.webhooks.conftest import Hooks
from tests.webhooks.receiver import Receiver


def added(result_stdout: str) -> tuple[str, str]:
    endpoint = re.search(r"Added (we_\w+)", result_stdout)
    secret = re.search(r"Signing secret: (whsec_\S+)", result_stdout)
    assert endpoint, result_stdout
    assert secret, result_stdout
    return endpoint.group(1), secret.group(1)


def test_add_list_rotate_remove(
    kassa: CliRunner, shop: ShopSetup, hooks: Hooks, receiver: Receiver
) -> None:
    result = invoke(
        kassa, "webhooks", "add", shop.name, receiver.url + "/cli",
        "--events", "payment.*", "--events", "refund.succeeded,refund.failed",
        "--description", "orders [main]",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    endpoint_id, secret = added(result.stdout)
    assert "Shown once" in result.stderr
    shown = hooks.get(endpoint_id)
    assert shown["events"] == ["payment.*", "refund.succeeded", "refund.failed"]
    assert (shown["description"], shown["test"]) == ("orders [main]", True)

    listed = invoke(kassa, "webhooks", "list", shop.name)
    assert endpoint_id in listed.stdout
    assert receiver.url + "/cli" in listed.stdout
    assert "enabled" in listed.stdout
    assert secret not in listed.stdout
    other = make_shop(hooks.server)
    theirs, _ = added(invoke(kassa, "webhooks", "add", other.name, receiver.url + "/x").stdout)
    their_list = invoke(kassa, "webhooks", "list", other.name).stdout
    assert theirs in their_list
    assert endpoint_id not in their_list  # nothing of the table before stays
    invoke(kassa, "webhooks", "remove", theirs)

    rotated = invoke(kassa, "webhooks", "rotate", endpoint_id, "--overlap", "600")
    assert rotated.exit_code == 0, rotated.output
    new_secret = re.search(r"New signing secret: (whsec_\S+)", rotated.stdout)
    assert new_secret
    assert new_secret.group(1) != secret
    assert "also signs until" in rotated.stderr
    receiver.secrets["/cli"] = [secret, new_secret.group(1)]
    create_payment(hooks.api)
    hooks.run()
    # Both sign meanwhile.
    assert receiver.requests[-1].verified == {secret: True, new_secret.group(1): True}

    removed = invoke(kassa, "webhooks", "remove", endpoint_id)
    assert removed.exit_code == 0
    assert hooks.api.get(f"/v1/webhook_endpoints/{endpoint_id}").status_code == 404
    again = invoke(kassa, "webhooks", "remove", endpoint_id)
    assert again.exit_code == 1
    assert f"No webhook endpoint '{endpoint_id}'" in again.stderr


def test_resend_and_deliveries(
    kassa: CliRunner, shop: ShopSetup, hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    first = hooks.create(receiver.url + "/one", events=["payment.created"])
    second = hooks.create(receiver.url + "/two", events=["refund.*"])
    payment = create_payment(api)
    (event,) = hooks.events(payment=payment["id"])

    result = invoke(kassa, "webhooks", "resend", event["id"])
    assert result.exit_code == 0, result.output
    assert first["id"] in result.stdout
    assert "HTTP 200" in result.stdout
    assert receiver.event_ids("/one") == [event["id"]]

    receiver.answer = lambda _path, _n: 500
    to_second = invoke(kassa, "webhooks", "resend", event["id"], "--endpoint", second["id"])
    assert to_second.exit_code == 1
    assert "HTTP 500" in to_second.stdout
    assert "retries" in to_second.stderr
    assert receiver.event_ids("/two") == [event["id"]]

    shown = invoke(kassa, "webhooks", "deliveries", second["id"])
    assert shown.exit_code == 0
    assert "pending (resend)" in shown.stdout
    assert "HTTP 500" in shown.stdout

    listed = invoke(kassa, "webhooks", "list", shop.name)
    assert "failing since" in listed.stdout


def test_enable_after_disabling(kassa: CliRunner, hooks: Hooks) -> None:
    endpoint = hooks.create("https://merchant.example/hook")
    hooks.api.post(f"/v1/webhook_endpoints/{endpoint['id']}", json={"enabled": False})
    assert hooks.get(endpoint["id"])["enabled"] is False
    assert invoke(kassa, "webhooks", "enable", endpoint["id"]).exit_code == 0
    assert hooks.get(endpoint["id"])["enabled"] is True


def test_errors_are_clear(kassa: CliRunner, shop: ShopSetup, hooks: Hooks) -> None:
    cases = [
        (("add", shop.name, "ftp://merchant.example/hook"), "http:// or https://"),
        (("add", shop.name, "https://m.example/h", "--events", "payment.paid"), "payment.*"),
        (("add", "no-such-shop", "https://m.example/h"), "No shop named 'no-such-shop'"),
        (("list", "no-such-shop"), "No shop named"),
        (("resend", "evt_nope"), "No event 'evt_nope'"),
        (("rotate", "we_nope"), "No webhook endpoint 'we_nope'"),
        (("enable", "we_nope"), "No webhook endpoint 'we_nope'"),
        (("deliveries", "we_nope"), "No webhook endpoint 'we_nope'"),
    ]
    for args, message in cases:
        result = invoke(kassa, "webhooks", *args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
    assert hooks.api.get("/v1/webhook_endpoints").json()["data"] == []
