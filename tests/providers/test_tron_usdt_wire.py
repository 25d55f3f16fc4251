"""USDT-TRC20's wire format alone: TronGrid's transfer list as the provider asks for it and
reads it, the exact amounts, and the watcher's signed notifications."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from kassa.domain import (
    NotificationRejected,
    NotSupported,
    ParameterInvalid,
    Payment,
    PaymentStatus,
    ProviderAccount,
    ProviderDeclined,
    ProviderUnavailable,
    SignatureInvalid,
)
from kassa.providers import CryptoTransferConfirmation, InboundRequest, PaymentRequest
from kassa.providers.tron_usdt import (
    SIGNATURE_HEADER,
    USDT_CONTRACT,
    Transfer,
    TronUsdtProvider,
    exact_amount,
    read_transfer,
)
from tests.emulators.tron_usdt import new_address

ADDRESS = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
SECRET = "watcher-secret"


def entry(value: Any = "1500000", **fields: Any) -> dict[str, Any]:
    """A transfer as TronGrid's documentation shows one."""
    return {
        "transaction_id": "ab" * 32,
        "token_info": {
            "symbol": "USDT",
            "address": USDT_CONTRACT,
            "decimals": 6,
            "name": "Tether USD",
        },
        "block_timestamp": 1_700_000_000_000,
        "from": "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf",
        "to": ADDRESS,
        "type": "Transfer",
        "value": value,
    } | fields


def provider(
    handler: Callable[[httpx.Request], httpx.Response] | None = None, **credentials: str
) -> TronUsdtProvider:
    account = ProviderAccount(
        id="pa_1",
        shop_id="shop_1",
        provider="tron_usdt",
        test=True,
        enabled=True,
        credentials={"address": ADDRESS, "watcher_secret": SECRET} | credentials,
    )
    transport = httpx.MockTransport(handler or (lambda _: httpx.Response(500)))
    return TronUsdtProvider(
        account,
        http=httpx.AsyncClient(transport=transport),
        api_url="https://api.trongrid.io",
        public_url="https://kassa.example",
    )


def collect(gateway: TronUsdtProvider, **window: Any) -> list[Transfer]:
    """The transfers `gateway.transfers(**window)` yields."""

    async def read() -> list[Transfer]:
        return [transfer async for transfer in gateway.transfers(**window)]

    return asyncio.run(read())


def page(*entries: dict[str, Any], fingerprint: str | None = None) -> httpx.Response:
    meta: dict[str, Any] = {"at": 1, "page_size": len(entries)}
    if fingerprint:
        meta["fingerprint"] = fingerprint
    return httpx.Response(200, json={"data": list(entries), "success": True, "meta": meta})


def test_a_documented_value_is_read_as_raw_units() -> None:
    transfer = read_transfer(entry("1500000"))
    assert transfer.value == 1_500_000
    assert exact_amount(transfer.value) == "1.500000"
    assert exact_amount(10_000_137) == "10.000137"
    assert transfer.at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    "broken",
    [
        {"value": 1.5},
        {"value": "1.5"},
        {"value": "-1"},
        {"value": "\uff11\uff12"},  # fullwidth digits
        {"block_timestamp": "1700000000000"},
        {"transaction_id": None},
        {"to": ""},
        {"token_info": "USDT"},
    ],
)
def test_a_transfer_that_is_not_one_is_refused(broken: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="transfer"):
        read_transfer(entry() | broken)


def test_the_list_is_asked_for_confirmed_incoming_usdt_with_the_key() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if "fingerprint" not in request.url.params:
            return page(entry("1"), fingerprint="next")
        return page(entry("2", transaction_id="cd" * 32))

    gateway = provider(answer, api_key="k-123")
    found = [t.value for t in collect(gateway, since=1000, until=2000)]
    assert found == [1, 2]
    first, second = seen
    assert first.url.path == f"/v1/accounts/{ADDRESS}/transactions/trc20"
    assert dict(first.url.params) == {
        "only_confirmed": "true",
        "only_to": "true",
        "contract_address": USDT_CONTRACT,
        "min_timestamp": "1000",
        "max_timestamp": "2000",
        "order_by": "block_timestamp,asc",
        "limit": "200",
    }
    assert first.headers["TRON-PRO-API-KEY"] == "k-123"
    assert second.url.params["fingerprint"] == "next"


def test_fake_tokens_outgoing_and_other_events_are_left_out() -> None:
    fake = entry(token_info={"symbol": "USDT", "address": "TFakeTokenXXXXXXXXXXXXXXXXXXXXXXXX"})
    outgoing = entry(transaction_id="01" * 32, to="TOtherXXXXXXXXXXXXXXXXXXXXXXXXXXXX")
    approval = entry(transaction_id="02" * 32, type="Approval")
    genuine = entry(transaction_id="03" * 32)
    gateway = provider(lambda _: page(fake, outgoing, approval, genuine))
    assert [t.transaction_id for t in collect(gateway, since=0)] == ["03" * 32]


@pytest.mark.parametrize("status", [429, 403, 503])
def test_tron_grid_limits_are_an_outage_to_back_off_from(status: int) -> None:
    gateway = provider(lambda _: httpx.Response(status, json={"success": False}))
    with pytest.raises(ProviderUnavailable):
        collect(gateway, since=0)


def test_a_refusal_and_an_unreadable_answer_are_told_apart() -> None:
    with pytest.raises(ProviderDeclined):
        collect(provider(lambda _: httpx.Response(400, json={})), since=0)
    unreadable = provider(lambda _: page(entry(value=1.5)))
    with pytest.raises(ProviderUnavailable):
        collect(unreadable, since=0)


def test_create_asks_for_the_reserved_amount_at_the_address() -> None:
    expires = datetime(2026, 12, 6, 12, tzinfo=UTC)
    request = PaymentRequest(
        payment_id="pay_1",
        amount=10_000_000,
        currency="USDT",
        capture=True,
        expires_at=expires,
        prepared={"amount": "10000137", "address": ADDRESS},
    )
    created = asyncio.run(provider().create(request))
    assert created.provider_payment_id is None
    assert created.confirmation == CryptoTransferConfirmation(
        address=ADDRESS,
        amount="10.000137",
        asset="USDT",
        network="TRC20",
        payload=ADDRESS,
        expires_at=expires,
    )


def payment(amount: str = "1.500001") -> Payment:
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    return Payment(
        id="pay_1",
        shop_id="shop_1",
        test=True,
        provider="tron_usdt",
        provider_account_id="pa_1",
        method=None,
        status=PaymentStatus.PENDING,
        amount=1_500_000,
        currency="USDT",
        capture=True,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(hours=1),
        confirmation={"type": "crypto_transfer", "address": ADDRESS, "amount": amount},
    )


def test_fetch_finds_only_the_exact_amount_in_the_payments_window() -> None:
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return page(entry("1500000"), entry("1500001", transaction_id="ef" * 32))

    update = asyncio.run(provider(answer).fetch(payment()))
    assert (update.status, update.provider_payment_id) == (PaymentStatus.SUCCEEDED, "ef" * 32)
    start = datetime(2026, 12, 6, 11, 58, tzinfo=UTC)
    assert asked[0].url.params["min_timestamp"] == str(int(start.timestamp() * 1000))
    assert asked[0].url.params["max_timestamp"] == str(
        int(datetime(2026, 12, 6, 13, tzinfo=UTC).timestamp() * 1000)
    )
    underpaid = asyncio.run(provider(lambda _: page(entry("1500000"))).fetch(payment()))
    assert underpaid.status == PaymentStatus.PENDING


def notice_request(gateway: TronUsdtProvider, transfer: dict[str, Any]) -> InboundRequest:
    notice = gateway.notice("pay_1", transfer)
    return InboundRequest(method="POST", headers=notice.headers, body=notice.body)


def test_the_watchers_notification_is_proved_by_its_signature() -> None:
    gateway = provider()
    request = notice_request(gateway, entry())
    parsed = asyncio.run(gateway.parse_notification(request))
    assert parsed.event_key == "ab" * 32
    (update,) = parsed.updates
    assert (update.status, update.payment_id, update.provider_payment_id) == (
        PaymentStatus.SUCCEEDED,
        "pay_1",
        "ab" * 32,
    )
    forged = InboundRequest(method="POST", headers={SIGNATURE_HEADER: "00" * 32}, body=request.body)
    with pytest.raises(SignatureInvalid):
        asyncio.run(gateway.parse_notification(forged))
    unsigned = InboundRequest(method="POST", headers={}, body=request.body)
    with pytest.raises(SignatureInvalid):
        asyncio.run(gateway.parse_notification(unsigned))


@pytest.mark.parametrize(
    "changed",
    [
        {"token_info": {"symbol": "USDT", "address": "TFakeTokenXXXXXXXXXXXXXXXXXXXXXXXX"}},
        {"to": "TOtherXXXXXXXXXXXXXXXXXXXXXXXXXXXX"},
    ],
)
def test_a_signed_notification_of_another_token_or_address_is_refused(
    changed: dict[str, Any],
) -> None:
    gateway = provider()
    with pytest.raises(NotificationRejected):
        asyncio.run(gateway.parse_notification(notice_request(gateway, entry() | changed)))


def test_the_simulated_transfer_is_of_the_exact_amount() -> None:
    gateway = provider()
    simulated = gateway.simulate(payment("1.500042"), "transfer")
    transfer = json.loads(simulated.body)["transfer"]
    assert (transfer["value"], transfer["to"]) == ("1500042", ADDRESS)
    assert transfer["token_info"]["address"] == USDT_CONTRACT


@pytest.mark.parametrize(
    ("setting", "seconds"),
    [
        ("", 10.0),
        ("30", 30.0),
        ("0.1", 1.0),
        ("inf", 10.0),
        ("nan", 10.0),
        ("ten", 10.0),
        ("1e9", 3600.0),
    ],
)
def test_the_poll_interval_is_read_safely(setting: str, seconds: float) -> None:
    assert provider(poll_interval=setting).watch_every == seconds


@pytest.mark.parametrize(
    "confirmation", [None, {"address": ADDRESS}, {"address": ADDRESS, "amount": "1.5e3"}]
)
def test_a_payment_without_a_transfer_to_look_for_cannot_be_asked_about(
    confirmation: dict[str, str] | None,
) -> None:
    with pytest.raises(NotSupported):
        asyncio.run(provider().fetch(replace(payment(), confirmation=confirmation)))


def test_an_address_is_checked_when_the_account_is_configured() -> None:
    check = TronUsdtProvider.check_credentials
    check({"address": ADDRESS, "contract": USDT_CONTRACT, "poll_interval": "15"}, test=False)
    check({"address": new_address()}, test=True)
    for wrong in (ADDRESS.lower(), ADDRESS[:-1] + "9", ADDRESS[1:], "0x" + "ab" * 20, ""):
        with pytest.raises(ParameterInvalid, match="not a TRON address") as refused:
            check({"address": ADDRESS, "contract": wrong or "T"}, test=False)
        assert refused.value.param == "contract"
    with pytest.raises(ParameterInvalid, match="not a TRON address"):
        check({"address": USDT_CONTRACT.swapcase()}, test=False)


@pytest.mark.parametrize("interval", ["0", "0.5", "3601", "ten", "nan", "inf"])
def test_a_poll_interval_out_of_range_is_refused(interval: str) -> None:
    with pytest.raises(ParameterInvalid, match="poll_interval"):
        TronUsdtProvider.check_credentials(
            {"address": ADDRESS, "poll_interval": interval}, test=True
        )
