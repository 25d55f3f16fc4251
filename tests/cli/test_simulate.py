"""`kassa simulate`: a provider's notification, sent to a running Kassa as the provider would."""

from __future__ import annotations

import httpx
from typer.testing import CliRunner

from kassa.services.shops import shops
from tests.cli.conftest import invoke
from tests.helpers import ShopSetup, create_payment
from tests.live import LiveServer, free_socket


def test_simulated_success_is_verified_and_applied(
    kassa: CliRunner,
    server: LiveServer,
    api: httpx.Client,
) -> None:
    payment = create_payment(api)
    result = invoke(
        kassa,
        "simulate",
        "sandbox",
        "payment.succeeded",
        "--payment",
        payment["id"],
        "--url",
        server.url,
    )
    assert result.exit_code == 0, result.stderr
    assert f"POST {server.url}/hooks/sandbox/" in result.stdout
    assert "HTTP 200" in result.stdout
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "succeeded"
    events = api.get("/v1/events", params={"payment": payment["id"]}).json()["data"]
    assert {event["type"] for event in events} == {"payment.created", "payment.succeeded"}


def test_simulate_defaults_to_the_public_url(
    kassa: CliRunner,
    api: httpx.Client,
) -> None:
    payment = create_payment(api, capture=False)
    result = invoke(kassa, "simulate", "sandbox", "payment.authorized", "--payment", payment["id"])
    assert result.exit_code == 0, result.stderr
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "requires_capture"


def test_unknown_event_lists_the_known_ones(
    kassa: CliRunner,
    api: httpx.Client,
) -> None:
    payment = create_payment(api)
    result = invoke(kassa, "simulate", "sandbox", "payment.teleported", "--payment", payment["id"])
    assert result.exit_code == 1
    assert "payment.succeeded" in result.stderr
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"


def test_the_provider_must_be_the_payments(
    kassa: CliRunner,
    api: httpx.Client,
) -> None:
    payment = create_payment(api)
    result = invoke(kassa, "simulate", "yookassa", "payment.succeeded", "--payment", payment["id"])
    assert result.exit_code == 1
    assert "made through sandbox, not yookassa" in result.stderr


def test_unknown_payment(kassa: CliRunner) -> None:
    result = invoke(kassa, "simulate", "sandbox", "payment.succeeded", "--payment", "pay_nope")
    assert result.exit_code == 1
    assert "No payment 'pay_nope'" in result.stderr


def test_kassa_not_running(
    kassa: CliRunner,
    api: httpx.Client,
    shop: ShopSetup,
) -> None:
    payment = create_payment(api)
    with free_socket() as sock:  # bound but not listening: connections are refused
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        result = invoke(
            kassa,
            "simulate",
            "sandbox",
            "payment.succeeded",
            "--payment",
            payment["id"],
            "--url",
            url,
        )
    assert result.exit_code == 1
    assert f"could not reach Kassa at {url}" in result.stderr


def test_a_rejected_simulation_says_why(
    kassa: CliRunner, server: LiveServer, api: httpx.Client, shop: ShopSetup
) -> None:
    """Kassa tells whoever sent a notification only that it was not accepted (so `/hooks`
    says nothing of which shops exist); `kassa simulate` reads why from what Kassa stored."""
    payment = create_payment(api)
    server.call(
        shops.configure_provider(
            server.ctx, shop=shop.shop, provider="sandbox", settings={"enabled": "false"}
        )
    )
    result = invoke(kassa, "simulate", "sandbox", "payment.succeeded", "--payment", payment["id"])
    assert result.exit_code == 1
    assert 'HTTP 401: {"verdict":"rejected","message":"not accepted"}' in result.stdout
    assert f"It was rejected: no enabled sandbox account for shop '{shop.name}'" in result.stdout
