"""The sandbox provider reaching the acquirer in-process (`kassa serve`) and over HTTP (a CLI
command): the same contract either way."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from kassa.config import Settings
from kassa.domain import ProviderAccount, ProviderDeclined, ProviderUnavailable, new_id
from kassa.providers.base import PaymentRequest, RedirectConfirmation
from kassa.providers.sandbox import ApiAnswer
from kassa.services.context import Context
from kassa.services.gateways import Gateways
from kassa.services.payments import sandbox_api
from kassa.services.shops import shops
from tests.helpers import ShopSetup
from tests.live import LiveServer


def request(expires_at: datetime | None = None) -> PaymentRequest:
    return PaymentRequest(
        new_id("pay"), amount=1000, currency="RUB", capture=True, expires_at=expires_at
    )


async def _account(ctx: Context, shop: ShopSetup) -> ProviderAccount:
    accounts = await shops.list_accounts(ctx, shop_id=shop.shop.id, test=True)
    return next(account for account in accounts if account.provider == "sandbox")


def api_calls_served(server: LiveServer) -> int:
    """How many creates the app has answered at `/sandbox/api` (its request metrics)."""
    labels = {"method": "POST", "route": "/sandbox/api/{path}", "status": "201"}
    found = server.app.state.metrics.registry.get_sample_value("kassa_http_requests_total", labels)
    return int(found or 0)


def test_creates_in_process_and_over_http_alike(server: LiveServer, shop: ShopSetup) -> None:
    """The server's provider calls the acquirer in-process, not through the app; a CLI's over
    HTTP at the public URL. Both create with Kassa's id as the order, idempotently: the same
    order gets the same sandbox payment."""
    account = server.call(_account(server.ctx, shop))
    cli = Gateways(Settings(database_url=server.settings.database_url, public_url=server.url))
    wanted = request()

    async def over_http() -> str:
        try:
            created = await cli.for_account(account).create(wanted)
        finally:
            await cli.aclose()
        return str(created.provider_payment_id)

    served = api_calls_served(server)
    in_process = server.call(server.ctx.gateways.for_account(account).create(wanted))
    assert api_calls_served(server) == served  # in-process: not a request to the app
    assert server.call(over_http()) == in_process.provider_payment_id
    assert api_calls_served(server) == served + 1
    assert isinstance(in_process.confirmation, RedirectConfirmation)
    assert in_process.confirmation.url.startswith(f"{server.url}/sandbox/checkout/sbx_")


def test_refusals_in_process_are_provider_declined(server: LiveServer, shop: ShopSetup) -> None:
    account = server.call(_account(server.ctx, shop))
    impostor = replace(account, credentials={"secret": "wrong"})
    with pytest.raises(ProviderDeclined) as refused:
        server.call(server.ctx.gateways.for_account(impostor).create(request()))
    assert refused.value.provider_code == "unauthorized"
    with pytest.raises(ProviderDeclined) as bad:
        server.call(server.ctx.gateways.for_account(account).create(request(datetime(2030, 1, 1))))
    assert bad.value.provider_code == "invalid_request"  # a time without its zone


def test_a_failing_acquirer_is_provider_unavailable(
    server: LiveServer, shop: ShopSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected failure of the acquirer answers 500 in-process, as over HTTP, which the
    provider reads as unavailable (the outcome is unknown)."""

    async def broken(*_: object) -> ApiAnswer:
        raise RuntimeError("the acquirer's database is gone")

    account = server.call(_account(server.ctx, shop))
    monkeypatch.setattr(sandbox_api, "answer", broken)
    with pytest.raises(ProviderUnavailable, match="HTTP 500"):
        server.call(server.ctx.gateways.for_account(account).create(request()))
