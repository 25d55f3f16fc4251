"""Telegram Stars end to end over real HTTP on loopback: merchant → Kassa → the Bot API
emulator (createInvoiceLink, refundStarPayment), and the buyer paying in the emulator while
the test plays the shop's bot, which asks Kassa's services (`pre_checkout`, `paid`). What is
particular to it: the invoice Telegram gets, the pre-checkout answers, duplicates of one
`successful_payment` at once, refunds that need the payer, and `kassa simulate`."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from kassa.domain import (
    ParameterInvalid,
    ProviderDeclined,
    ProviderUnavailable,
    Refund,
    RefundStatus,
)
from kassa.providers.telegram_stars import SIGNATURE_HEADER
from kassa.services.notifications import simulate
from kassa.services.payments import lifecycle
from kassa.services.providers import telegram_stars as stars
from kassa.services.shops import shops
from tests.conformance.drivers.telegram_stars import BotSide, StarsAccount, TelegramStarsDriver
from tests.emulators.telegram import Bot, TelegramEmulator, running
from tests.helpers import ProviderShop, event_types, later, make_provider_shop, stored_notifications
from tests.live import LiveServer

STARS = 250


@pytest.fixture(scope="module")
def telegram() -> Iterator[TelegramEmulator]:
    with running() as emulator:
        yield emulator


@pytest.fixture
def bot(telegram: TelegramEmulator) -> Bot:
    return telegram.add_bot()


@pytest.fixture
def shop(server: LiveServer, telegram: TelegramEmulator, bot: Bot) -> ProviderShop:
    settings = {"bot_token": bot.token, "api_url": telegram.api_url, "title": "VPN, 1 month"}
    return make_provider_shop(server, "telegram_stars", settings)


@pytest.fixture
def api(server: LiveServer, shop: ProviderShop) -> Iterator[httpx.Client]:
    with shop.api(server) as client:
        yield client


def create(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"amount": STARS, "currency": "XTR", "description": "30 days of VPN", **fields}
    response = api.post("/v1/payments", json=body)
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    return document


def current(api: httpx.Client, payment: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = api.get(f"/v1/payments/{payment['id']}").json()
    return document


def ask(server: LiveServer, shop: ProviderShop, query: dict[str, Any]) -> stars.PreCheckoutAnswer:
    return server.call(stars.pre_checkout(server.ctx, shop=shop.name, query=query))


def query_for(payment: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A pre-checkout query about `payment`, as Telegram sends it."""
    return {
        "id": "4242",
        "from": {"id": 7, "is_bot": False, "first_name": "B", "language_code": "en"},
        "currency": "XTR",
        "total_amount": payment["amount"],
        "invoice_payload": payment["id"],
        **changes,
    }


def buy(
    server: LiveServer, telegram: TelegramEmulator, bot: Bot, shop: ProviderShop, link: str
) -> dict[str, Any]:
    """A buyer pays the invoice link; the bot asks Kassa at pre-checkout and receives the
    successful payment (not yet handed over): returns that update (the conformance
    driver's bot)."""
    driver = TelegramStarsDriver(server, telegram)
    account = StarsAccount(shop.name, shop.key, bot)
    return driver.pay_silently(account, {"confirmation": {"url": link}}).update


def test_the_invoice_link_is_for_whole_stars_with_the_payment_as_payload(
    api: httpx.Client, telegram: TelegramEmulator, bot: Bot
) -> None:
    payment = create(api)
    assert payment["confirmation"]["type"] == "invoice_link"
    slug = payment["confirmation"]["url"].rsplit("$", 1)[-1]
    invoice = telegram.invoices[slug]
    assert invoice["payload"] == payment["id"]
    assert (invoice["currency"], invoice["total_amount"]) == ("XTR", STARS)  # never x100
    assert (invoice["title"], invoice["description"]) == ("VPN, 1 month", "30 days of VPN")
    (call,) = [c for c in telegram.calls if c[0] == bot.username]
    assert call[1] == "createInvoiceLink"
    assert call[2]["provider_token"] == ""
    assert call[2]["prices"] == [{"label": "VPN, 1 month", "amount": STARS}]


def test_only_stars_are_taken(api: httpx.Client) -> None:
    refused = api.post("/v1/payments", json={"amount": 100, "currency": "RUB"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "currency_unsupported"
    assert not api.get("/v1/payments").json()["data"]


def test_a_refused_token_and_limits_are_clear_and_never_show_the_token(
    api: httpx.Client, telegram: TelegramEmulator, bot: Bot
) -> None:
    telegram.limit(retry_after=3)
    limited = api.post("/v1/payments", json={"amount": STARS, "currency": "XTR"})
    assert limited.status_code == 502, limited.text
    assert "retry" in limited.json()["error"]["message"]
    del telegram.bots[bot.token]  # the owner revoked the token at @BotFather
    refused = api.post("/v1/payments", json={"amount": STARS, "currency": "XTR"})
    assert refused.status_code == 402, refused.text
    assert refused.json()["error"]["code"] == "provider_declined"
    for answer in (limited, refused):
        assert bot.token not in answer.text
        assert bot.token.split(":")[1] not in answer.text


def test_pre_checkout_takes_only_a_pending_payment_of_its_price(
    server: LiveServer, api: httpx.Client, shop: ProviderShop
) -> None:
    payment = create(api)
    assert ask(server, shop, query_for(payment)).ok
    changed = ask(server, shop, query_for(payment, total_amount=STARS - 1))
    assert not changed.ok
    assert changed.error_message == stars.PRICE_CHANGED
    assert not ask(server, shop, query_for(payment, currency="USD")).ok
    unknown = ask(server, shop, query_for(payment, invoice_payload="pay_nothing"))
    assert (unknown.ok, unknown.error_message) == (False, stars.UNKNOWN)
    russian = ask(
        server, shop, query_for(payment, invoice_payload="x", **{"from": {"language_code": "ru"}})
    )
    assert russian.error_message == "Этот заказ не найден. Пожалуйста, начните покупку заново."


def test_pre_checkout_refuses_an_expired_payment_and_another_shops(
    server: LiveServer, api: httpx.Client, shop: ProviderShop, telegram: TelegramEmulator
) -> None:
    payment = create(api)
    ends = datetime.fromisoformat(payment["expires_at"]) - datetime.now(UTC)
    for ahead in (ends - timedelta(seconds=30), ends + timedelta(seconds=1)):
        # About to expire, or expired: Telegram would take the Stars for nothing.
        late = later(server, ahead)
        expired = server.call(stars.pre_checkout(late, shop=shop.name, query=query_for(payment)))
        assert (expired.ok, expired.error_message) == (False, stars.EXPIRED)
    in_time = later(server, ends - timedelta(minutes=2))
    assert server.call(stars.pre_checkout(in_time, shop=shop.name, query=query_for(payment))).ok
    other = make_provider_shop(
        server, "telegram_stars", {"bot_token": telegram.add_bot().token, "api_url": telegram.url}
    )
    foreign = server.call(stars.pre_checkout(server.ctx, shop=other.name, query=query_for(payment)))
    assert (foreign.ok, foreign.error_message) == (False, stars.UNKNOWN)


def test_the_buyer_pays_and_ten_copies_at_once_have_one_effect(
    server: LiveServer,
    api: httpx.Client,
    shop: ProviderShop,
    telegram: TelegramEmulator,
    bot: Bot,
) -> None:
    payment = create(api)
    update = buy(server, telegram, bot, shop, payment["confirmation"]["url"])
    paid = update["message"]["successful_payment"]

    async def copies() -> list[Any]:
        return await asyncio.gather(
            *(stars.paid(server.ctx, shop=shop.name, update=update) for _ in range(10))
        )

    results = server.call(copies())
    assert Counter(result.verdict.value for result in results) == {"accepted": 1, "duplicate": 9}
    after = current(api, payment)
    assert after["status"] == "succeeded"
    user = update["message"]["from"]["id"]
    assert after["provider_payment_id"] == f"{user}:{paid['telegram_payment_charge_id']}"
    assert event_types(server, payment["id"]) == ["payment.created", "payment.succeeded"]
    # Stored raw: the update exactly as the bot received it.
    stored = stored_notifications(server, shop.name)[-10:]
    assert json.loads(stored[0]["body"]) == update
    # Now the payment is paid, a second tap on Pay is refused.
    again = ask(server, shop, query_for(payment))
    assert (again.ok, again.error_message) == (False, stars.ALREADY_PAID)


def test_a_refused_pre_checkout_takes_nothing(
    server: LiveServer, api: httpx.Client, shop: ProviderShop, telegram: TelegramEmulator, bot: Bot
) -> None:
    payment = create(api)
    side = BotSide(telegram, bot)
    checkout = telegram.begin_payment(bot, telegram.user(), payment["confirmation"]["url"])
    (update,) = side.call("getUpdates", timeout=5)
    late = later(server, timedelta(days=400))
    answer = server.call(
        stars.pre_checkout(late, shop=shop.name, query=update["pre_checkout_query"])
    )
    side.call(
        "answerPreCheckoutQuery",
        pre_checkout_query_id=update["pre_checkout_query"]["id"],
        ok=False,
        error_message=answer.error_message,
    )
    assert checkout.wait(1)
    assert (checkout.ok, checkout.error_message) == (False, answer.error_message)
    assert side.call("getUpdates", offset=update["update_id"] + 1) == []
    assert not telegram.charges or all(
        charge["payload"] != payment["id"] for charge in telegram.charges.values()
    )
    assert current(api, payment)["status"] == "pending"


def test_a_refund_returns_the_charge_to_the_payer_once(
    server: LiveServer,
    api: httpx.Client,
    shop: ProviderShop,
    telegram: TelegramEmulator,
    bot: Bot,
) -> None:
    payment = create(api)
    update = buy(server, telegram, bot, shop, payment["confirmation"]["url"])
    result = server.call(stars.paid(server.ctx, shop=shop.name, update=update))
    assert result.verdict.value == "accepted"
    charge = update["message"]["successful_payment"]["telegram_payment_charge_id"]
    partial = api.post("/v1/refunds", json={"payment": payment["id"], "amount": 100})
    assert partial.status_code == 422, partial.text
    assert partial.json()["error"]["code"] == "operation_unsupported"
    refund = api.post("/v1/refunds", json={"payment": payment["id"]})
    assert refund.status_code == 201, refund.text
    assert (refund.json()["status"], refund.json()["amount"]) == ("succeeded", STARS)
    assert telegram.charges[charge]["refunded"] is True
    refunds = [c for c in telegram.calls if c[1] == "refundStarPayment"]
    assert refunds[-1][2] == {
        "user_id": update["message"]["from"]["id"],
        "telegram_payment_charge_id": charge,
    }
    assert current(api, payment)["status"] == "refunded"


def test_a_charge_refunded_already_is_taken_as_refunded(
    server: LiveServer, telegram: TelegramEmulator, shop: ProviderShop, bot: Bot, api: httpx.Client
) -> None:
    """The answer to the first refund was lost: Telegram says CHARGE_ALREADY_REFUNDED."""
    payment = create(api)
    update = buy(server, telegram, bot, shop, payment["confirmation"]["url"])
    server.call(stars.paid(server.ctx, shop=shop.name, update=update))
    charge = update["message"]["successful_payment"]["telegram_payment_charge_id"]
    telegram.charges[charge]["refunded"] = True
    stored = server.call(lifecycle.find_payment(server.ctx, payment_id=payment["id"]))
    gateway = server.call(lifecycle.gateway_for(server.ctx, stored))
    refund = Refund(
        id="re_1",
        payment_id=stored.id,
        shop_id=stored.shop_id,
        test=True,
        amount=STARS,
        currency="XTR",
        status=RefundStatus.PENDING,
        created_at=stored.created_at,
        updated_at=stored.created_at,
    )
    assert server.call(gateway.refund(stored, refund)).status == RefundStatus.SUCCEEDED
    telegram.down = True
    try:
        with pytest.raises(ProviderUnavailable):
            server.call(gateway.refund(stored, refund))
    finally:
        telegram.down = False
    charge_less = replace(stored, provider_payment_id=None)
    with pytest.raises(ProviderDeclined):
        server.call(gateway.refund(charge_less, refund))


def test_an_update_posted_by_anyone_else_is_refused(
    server: LiveServer, api: httpx.Client, shop: ProviderShop
) -> None:
    payment = create(api)
    update = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "from": {"id": 7, "is_bot": False, "first_name": "B"},
            "chat": {"id": 7, "type": "private"},
            "date": 0,
            "successful_payment": {
                "currency": "XTR",
                "total_amount": STARS,
                "invoice_payload": payment["id"],
                "telegram_payment_charge_id": "stxforged",
                "provider_payment_charge_id": "",
            },
        },
    }
    url = f"{server.url}/hooks/telegram_stars/{shop.name}"
    for headers in ({}, {SIGNATURE_HEADER: "0" * 64}):
        answer = httpx.post(url, json=update, headers=headers, timeout=30)
        assert answer.status_code == 401, answer.text
    assert current(api, payment)["status"] == "pending"
    assert stored_notifications(server, shop.name)[-1]["verdict"] == "rejected"


def test_a_payment_of_another_amount_is_not_credited(
    server: LiveServer, api: httpx.Client, shop: ProviderShop, telegram: TelegramEmulator, bot: Bot
) -> None:
    payment = create(api)
    update = buy(server, telegram, bot, shop, payment["confirmation"]["url"])
    update["message"]["successful_payment"]["total_amount"] = 1
    server.call(stars.paid(server.ctx, shop=shop.name, update=update))
    assert current(api, payment)["status"] == "pending"


def test_kassa_simulate_sends_a_signed_successful_payment(
    server: LiveServer, api: httpx.Client, shop: ProviderShop
) -> None:
    payment = create(api)
    delivered = server.call(
        simulate.simulate(
            server.ctx,
            provider="telegram_stars",
            event="successful_payment",
            payment_id=payment["id"],
            base_url=server.url,
        )
    )
    assert delivered.status_code == 200, delivered.answer
    assert current(api, payment)["status"] == "succeeded"


def test_configuring_generates_the_notice_secret(server: LiveServer, shop: ProviderShop) -> None:
    account = server.call(shops.get_account(server.ctx, account_id=shop.account.id))
    assert len(account.credentials["notice_secret"]) >= 32


def test_a_test_account_is_in_the_test_environment_unless_told_and_a_live_one_never(
    server: LiveServer, telegram: TelegramEmulator
) -> None:
    production = telegram.add_bot(test_environment=False)
    settings = {"bot_token": production.token, "api_url": telegram.url}
    in_production = make_provider_shop(
        server, "telegram_stars", settings | {"test_environment": "false"}
    )
    with in_production.api(server) as api:
        create(api)  # the bot is called at /bot<token>/createInvoiceLink, not /test/
    with pytest.raises(ParameterInvalid, match="only be a test account"):
        make_provider_shop(
            server, "telegram_stars", settings | {"test_environment": "true"}, live=True
        )
    with pytest.raises(ParameterInvalid, match="true or false"):
        make_provider_shop(server, "telegram_stars", settings | {"test_environment": "maybe"})


def filler(amount: int, *, payload: str = "someone-else") -> dict[str, Any]:
    """A Stars transaction of another payment."""
    source = {"type": "user", "user": {"id": 5, "is_bot": False, "first_name": "X"}}
    return {
        "id": "stxother",
        "amount": amount,
        "date": 1,
        "source": source | {"invoice_payload": payload},
    }


def test_check_payment_finds_a_payment_the_bot_never_handed_over(
    server: LiveServer, api: httpx.Client, shop: ProviderShop, telegram: TelegramEmulator, bot: Bot
) -> None:
    """Among 1234 older transactions and 57 newer ones, in few calls."""
    payment = create(api)
    bot.transactions.extend(filler(STARS) for _ in range(1234))
    update = buy(server, telegram, bot, shop, payment["confirmation"]["url"])
    bot.transactions.extend(filler(STARS) for _ in range(57))
    before = len(telegram.calls)
    checked = api.post(f"/v1/payments/{payment['id']}/refresh")
    assert checked.status_code == 200, checked.text
    assert checked.json()["status"] == "succeeded"
    charge = update["message"]["successful_payment"]["telegram_payment_charge_id"]
    assert checked.json()["provider_payment_id"] == f"{update['message']['from']['id']}:{charge}"
    looked = [c for c in telegram.calls[before:] if c[1] == "getStarTransactions"]
    assert 0 < len(looked) <= 12
    # The update handed over at last changes nothing more.
    late = server.call(stars.paid(server.ctx, shop=shop.name, update=update))
    assert late.verdict.value == "accepted"
    assert event_types(server, payment["id"]) == ["payment.created", "payment.succeeded"]


@pytest.mark.parametrize("count", [0, 1, 99, 100, 101, 250])
def test_an_unpaid_payment_is_not_found_whatever_the_list_length(
    server: LiveServer, api: httpx.Client, bot: Bot, count: int
) -> None:
    payment = create(api)
    # Another payment's payload, and this one's payload for another amount: neither pays it.
    bot.transactions.extend(filler(STARS) for _ in range(count))
    bot.transactions.append(filler(STARS + 1, payload=payment["id"]))
    checked = api.post(f"/v1/payments/{payment['id']}/refresh")
    assert checked.status_code == 200, checked.text
    assert checked.json()["status"] == "pending"
