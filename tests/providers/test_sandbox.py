"""The sandbox provider reaching the acquirer in-process (`kassa serve`) and over HTTP (a CLI
command): the same contract either way."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime

import httpx
import pytest

from kassa.config import Settings
from kassa.domain import ProviderAccount, ProviderDeclined, ProviderUnavailable, new_id
from kassa.providers.base import PaymentRequest, RedirectConfirmation
from kassa.services.context import Context
from kassa.services.gateways import Gateways
from kassa.services.payments import sandbox_api
from kassa.services.payments.sandbox_api import InProcessTransport
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


def test_creates_in_process_and_over_http_alike(server: LiveServer, shop: ShopSetup) -> None:
    """The server's provider (in-process) and a CLI's (HTTP at the public URL) create with
    Kassa's id as the order, idempotently: the same order gets the same sandbox payment."""
    account = server.call(_account(server.ctx, shop))
    cli = Gateways(Settings(database_url=server.settings.database_url, public_url=server.url))
    wanted = request()

    async def over_http() -> str:
        try:
            created = await cli.for_account(account).create(wanted)
        finally:
            await cli.aclose()
        return str(created.provider_payment_id)

    in_process = server.call(server.ctx.gateways.for_account(account).create(wanted))
    assert server.call(over_http()) == in_process.provider_payment_id
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
    provider reads as unavailable (the outcome is unknown); what is not the API (the
    notifications the acquirer sends) goes to the fallback, the app."""

    async def broken(*_: object) -> sandbox_api.ApiAnswer:
        raise RuntimeError("the acquirer's database is gone")

    account = server.call(_account(server.ctx, shop))
    monkeypatch.setattr(sandbox_api, "answer", broken)
    with pytest.raises(ProviderUnavailable, match="HTTP 500"):
        server.call(server.ctx.gateways.for_account(account).create(request()))

    async def through(transport: InProcessTransport) -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://kassa.internal") as hub:
            return await hub.post("/hooks/sandbox/shop")

    app = httpx.MockTransport(lambda sent: httpx.Response(202, text=sent.url.path))
    passed = asyncio.run(through(InProcessTransport(lambda: server.ctx, fallback=app)))
    assert (passed.status_code, passed.text) == (202, "/hooks/sandbox/shop")
