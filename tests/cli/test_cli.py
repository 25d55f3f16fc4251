"""The `kassa` command: shops, keys, providers, payments; clear errors and exit codes."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest
from typer.testing import CliRunner

from tests.cli.conftest import invoke
from tests.helpers import checkout, create_payment
from tests.live import LiveServer


@pytest.fixture
def name() -> str:
    return f"cli-{secrets.token_hex(4)}"


def test_shops_create_and_list(kassa: CliRunner, name: str) -> None:
    created = invoke(kassa, "shops", "create", name)
    assert created.exit_code == 0
    assert f"Created shop {name}" in created.stdout
    assert name in invoke(kassa, "shops", "list").stdout
    again = invoke(kassa, "shops", "create", name)
    assert again.exit_code == 1
    assert "already exists" in again.stderr


@pytest.mark.parametrize("bad", ["Has Spaces", "UPPER", "a/b", "_under", "x" * 64])
def test_bad_shop_names_are_refused(kassa: CliRunner, bad: str) -> None:
    result = invoke(kassa, "shops", "create", bad)
    assert result.exit_code == 1
    assert "shop name" in result.stderr


def test_keys_create_list_revoke(kassa: CliRunner, server: LiveServer, name: str) -> None:
    invoke(kassa, "shops", "create", name)
    invoke(kassa, "providers", "configure", name, "sandbox")
    created = invoke(kassa, "keys", "create", name)
    assert created.exit_code == 0
    key = created.stdout.strip()
    assert re.fullmatch(r"sk_test_[A-Za-z0-9]{32}", key)
    assert "Shown once" in created.stderr
    live = invoke(kassa, "keys", "create", name, "--live").stdout.strip()
    assert live.startswith("sk_live_")

    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{server.url}/v1/payments", headers=headers).status_code == 200

    listed = invoke(kassa, "keys", "list", name).stdout
    assert key[:12] in listed
    assert key not in listed
    key_id = re.search(r"key_\w+", listed)
    assert key_id is not None
    assert invoke(kassa, "keys", "revoke", key_id.group()).exit_code == 0
    assert httpx.get(f"{server.url}/v1/payments", headers=headers).status_code == 401
    assert invoke(kassa, "keys", "revoke", key_id.group()).exit_code == 1


def test_providers_configure_and_list_masks_secrets(
    kassa: CliRunner, server: LiveServer, name: str
) -> None:
    invoke(kassa, "shops", "create", name)
    configured = invoke(
        kassa, "providers", "configure", name, "sandbox", "secret=sbx_sk_abcdef123456"
    )
    assert configured.exit_code == 0
    assert f"{server.url}/hooks/sandbox/{name}" in configured.stdout
    listed = invoke(kassa, "providers", "list", name).stdout
    assert "sandbox" in listed
    assert "sbx_sk_abcdef123456" not in listed
    assert "3456" in listed


def test_a_provider_kassa_watches_itself_has_no_url_to_give(kassa: CliRunner, name: str) -> None:
    invoke(kassa, "shops", "create", name)
    address = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
    configured = invoke(kassa, "providers", "configure", name, "tron_usdt", f"address={address}")
    assert configured.exit_code == 0, configured.stderr
    assert "No URL to give USDT-TRC20" in configured.stdout
    assert "/hooks/" not in configured.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("sandbox", "test=false"), 1, "test accounts only"),
        (("sandbox", "colour=red"), 1, "no setting 'colour'"),
        (("sandbox", "enabled=maybe"), 1, "enabled must be true or false"),
        (("sandbox", "api_url=ftp://x"), 1, "api_url must be an http(s) URL"),
        (("sandbox", "no-equals-sign"), 2, "key=value"),
        (("paypal",), 1, "Unknown provider 'paypal'"),
    ],
)
def test_providers_configure_errors(
    kassa: CliRunner, name: str, args: tuple[str, ...], code: int, message: str
) -> None:
    invoke(kassa, "shops", "create", name)
    result = invoke(kassa, "providers", "configure", name, *args)
    assert result.exit_code == code
    assert message in result.stderr


def test_unknown_shop(kassa: CliRunner) -> None:
    for args in (("keys", "create", "nope-nope"), ("providers", "list", "nope-nope")):
        result = invoke(kassa, *args)
        assert result.exit_code == 1
        assert "No shop named 'nope-nope'" in result.stderr


def test_payments_list_and_show(
    kassa: CliRunner, server: LiveServer, api: httpx.Client, shop: object
) -> None:
    payment = create_payment(api, amount=150000, customer="alice")
    checkout(server, payment, "pay")
    listed = invoke(kassa, "payments", "list", "--shop", shop.name, "--status", "succeeded")  # type: ignore[attr-defined]
    assert payment["id"] in listed.stdout
    assert "1500.00 RUB" in listed.stdout
    shown = invoke(kassa, "payments", "show", payment["id"])
    assert shown.exit_code == 0
    for text in ("succeeded", "1500.00 RUB", "payment.created", "payment.succeeded", "alice"):
        assert text in shown.stdout
    assert re.search(r"confirmation\s+redirect *\n\s+url\s+http", shown.stdout), shown.stdout
    missing = invoke(kassa, "payments", "show", "pay_nope")
    assert missing.exit_code == 1
    assert "No payment 'pay_nope'" in missing.stderr
    bad_status = invoke(kassa, "payments", "list", "--status", "paid")
    assert bad_status.exit_code == 2


def test_migrate(kassa: CliRunner) -> None:
    result = invoke(kassa, "migrate")
    assert result.exit_code == 0
    assert "Schema up to date" in result.stdout


def test_a_new_shop_has_the_sandbox_and_configure_keeps_its_settings(
    kassa: CliRunner, name: str
) -> None:
    created = invoke(kassa, "shops", "create", name)
    assert "sandbox provider in test mode" in created.stdout
    listed = invoke(kassa, "providers", "list", name).stdout
    assert re.search(r"sandbox\s+│\s+test\s+│\s+yes\s+│\s+secret=••••", listed), listed
    first = invoke(kassa, "providers", "configure", name, "sandbox", "enabled=false")
    assert "Generated" not in first.stdout  # its secret was made with the shop, never shown
    again = invoke(kassa, "providers", "configure", name, "sandbox")
    assert "Generated" not in again.stdout
    listed = invoke(kassa, "providers", "list", name).stdout
    assert re.search(r"sandbox\s+│\s+test\s+│\s+no", listed), listed  # still disabled


def test_a_new_shop_takes_the_readmes_first_payment(
    kassa: CliRunner, server: LiveServer, name: str
) -> None:
    """`kassa shops create` + `kassa keys create` + the README's curl: a sandbox payment."""
    invoke(kassa, "shops", "create", name)
    key = invoke(kassa, "keys", "create", name).stdout.strip()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as api:
        payment = create_payment(api, description="Order 1")
    assert (payment["provider"], payment["status"], payment["test"]) == ("sandbox", "pending", True)

    # Live mode has nothing by default (the sandbox takes no real money): the error says what
    # to run.
    live = invoke(kassa, "keys", "create", name, "--live").stdout.strip()
    headers = {"Authorization": f"Bearer {live}"}
    refused = httpx.post(
        f"{server.url}/v1/payments", headers=headers, json={"amount": 100, "currency": "RUB"}
    )
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "provider_not_configured"
    assert f"kassa providers configure {name} PROVIDER" in error["message"]
