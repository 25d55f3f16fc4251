"""The Bot API emulator behaves as the Bot API is documented, for every call the future bot
process makes (it will be tested through it): long polling and confirmation by offset, one
poller at a time, 429 with `retry_after`, messages, edits, callback answers, blocked users,
invoices in the chat and their Stars payment, refunds."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.emulators.telegram import Bot, TelegramEmulator, running


@pytest.fixture(scope="module")
def telegram() -> Iterator[TelegramEmulator]:
    with running() as emulator:
        yield emulator


@pytest.fixture
def bot(telegram: TelegramEmulator) -> Bot:
    return telegram.add_bot("shop_bot")


def call(telegram: TelegramEmulator, bot: Bot, method: str, **params: Any) -> httpx.Response:
    return httpx.post(f"{telegram.bot_url(bot)}/{method}", json=params, timeout=30)


def result(telegram: TelegramEmulator, bot: Bot, method: str, **params: Any) -> Any:
    answer = call(telegram, bot, method, **params)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


def test_get_me_and_an_unknown_token_or_method(telegram: TelegramEmulator, bot: Bot) -> None:
    me = result(telegram, bot, "getMe")
    assert (me["id"], me["is_bot"], me["username"]) == (bot.id, True, "shop_bot")
    unauthorized = {"ok": False, "error_code": 401, "description": "Unauthorized"}
    for wrong in (f"{telegram.url}/bot1:nope/test", f"{telegram.url}/bot{bot.token}"):
        refused = httpx.get(f"{wrong}/getMe")  # an unknown token, or the other environment
        assert (refused.status_code, refused.json()) == (401, unauthorized)
    production = telegram.add_bot(test_environment=False)
    assert httpx.get(f"{telegram.bot_url(production)}/getMe").status_code == 200
    assert telegram.bot_url(production) == f"{telegram.url}/bot{production.token}"
    assert call(telegram, bot, "sendSticker").status_code == 404


def test_updates_are_kept_until_a_higher_offset_confirms_them(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    buyer = telegram.user(language_code="ru")
    telegram.send_text(bot, buyer, "/start ref_abc")
    telegram.send_text(bot, buyer, "hello")
    first = result(telegram, bot, "getUpdates")
    assert [u["message"]["text"] for u in first] == ["/start ref_abc", "hello"]
    assert first[0]["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert first[0]["message"]["from"]["language_code"] == "ru"
    assert result(telegram, bot, "getUpdates") == first  # not confirmed: given again
    rest = result(telegram, bot, "getUpdates", offset=first[0]["update_id"] + 1)
    assert rest == first[1:]
    assert result(telegram, bot, "getUpdates", offset=first[1]["update_id"] + 1) == []
    assert result(telegram, bot, "getUpdates", limit=1) == []
    assert call(telegram, bot, "getUpdates", limit=101).status_code == 400


def test_a_long_poll_waits_for_the_next_update(telegram: TelegramEmulator, bot: Bot) -> None:
    buyer = telegram.user()
    threading.Timer(0.2, telegram.send_text, (bot, buyer, "late")).start()
    started = time.monotonic()
    (update,) = result(telegram, bot, "getUpdates", timeout=5)
    assert update["message"]["text"] == "late"
    assert 0.15 <= time.monotonic() - started < 5
    started = time.monotonic()
    assert result(telegram, bot, "getUpdates", offset=update["update_id"] + 1, timeout=1) == []
    assert time.monotonic() - started >= 0.9


def test_a_second_poller_ends_the_first_with_409(telegram: TelegramEmulator, bot: Bot) -> None:
    answers: list[httpx.Response] = []
    first = threading.Thread(
        target=lambda: answers.append(call(telegram, bot, "getUpdates", timeout=3))
    )
    first.start()
    while bot.poll == 0:  # until the first poll waits
        time.sleep(0.005)
    assert result(telegram, bot, "getUpdates") == []
    first.join()
    assert answers[0].status_code == 409
    assert answers[0].json()["description"].startswith("Conflict: terminated by other getUpdates")


def test_429_says_when_to_retry(telegram: TelegramEmulator, bot: Bot) -> None:
    telegram.limit(retry_after=7, calls=2)
    for _ in range(2):
        limited = call(telegram, bot, "getMe")
        assert limited.status_code == 429
        assert limited.json()["parameters"] == {"retry_after": 7}
        assert limited.json()["description"] == "Too Many Requests: retry after 7"
    assert call(telegram, bot, "getMe").status_code == 200


def test_messages_buttons_edits_and_callback_answers(telegram: TelegramEmulator, bot: Bot) -> None:
    buyer = telegram.user()
    markup = {"inline_keyboard": [[{"text": "Buy", "callback_data": "plan:1"}]]}
    sent = result(telegram, bot, "sendMessage", chat_id=buyer.id, text="Plans", reply_markup=markup)
    assert sent["reply_markup"] == markup
    assert [m["text"] for m in telegram.sent(bot, buyer)] == ["Plans"]
    with pytest.raises(ValueError, match="no button"):
        telegram.press(bot, buyer, sent, "plan:2")
    query_id = telegram.press(bot, buyer, sent, "plan:1")
    (update,) = result(telegram, bot, "getUpdates")
    assert update["callback_query"]["data"] == "plan:1"
    assert update["callback_query"]["message"]["message_id"] == sent["message_id"]
    assert result(telegram, bot, "answerCallbackQuery", callback_query_id=query_id, text="ok")
    assert telegram.callback_answers[query_id] == {"text": "ok", "show_alert": False}
    again = call(telegram, bot, "answerCallbackQuery", callback_query_id=query_id)
    assert again.status_code == 400
    edited = result(
        telegram,
        bot,
        "editMessageText",
        chat_id=buyer.id,
        message_id=sent["message_id"],
        text="Paid",
    )
    assert (edited["text"], edited["reply_markup"]) == ("Paid", markup)
    assert [m["text"] for m in telegram.sent(bot, buyer)] == ["Paid"]
    same = call(
        telegram,
        bot,
        "editMessageText",
        chat_id=buyer.id,
        message_id=sent["message_id"],
        text="Paid",
    )
    assert "message is not modified" in same.json()["description"]
    missing = call(telegram, bot, "editMessageText", chat_id=buyer.id, message_id=1, text="x")
    assert missing.json()["description"] == "Bad Request: message to edit not found"


def test_a_user_who_blocked_the_bot_gets_nothing(telegram: TelegramEmulator, bot: Bot) -> None:
    buyer = telegram.user()
    telegram.block(bot, buyer)
    blocked = call(telegram, bot, "sendMessage", chat_id=buyer.id, text="news")
    assert (blocked.status_code, blocked.json()["description"]) == (
        403,
        "Forbidden: bot was blocked by the user",
    )
    assert telegram.sent(bot, buyer) == []
    unknown = call(telegram, bot, "sendMessage", chat_id=1, text="x")
    assert unknown.json()["description"] == "Bad Request: chat not found"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"currency": "XTS"}, "PAYMENT_PROVIDER_INVALID"),
        ({"provider_token": "381764678:TEST:1"}, "PAYMENT_PROVIDER_INVALID"),
        (
            {"prices": [{"label": "a", "amount": 1}, {"label": "b", "amount": 1}]},
            "STARS_INVOICE_INVALID",
        ),
        ({"prices": [{"label": "a", "amount": 1.5}]}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
        ({"title": "x" * 33}, "TITLE_INVALID"),
        ({"description": ""}, "DESCRIPTION_INVALID"),
        ({"payload": "я" * 65}, "INVOICE_PAYLOAD_INVALID"),
    ],
)
def test_stars_invoices_are_checked(
    telegram: TelegramEmulator, bot: Bot, changes: dict[str, Any], error: str
) -> None:
    invoice = {
        "title": "VPN",
        "description": "30 days",
        "payload": "pay_1",
        "provider_token": "",
        "currency": "XTR",
        "prices": [{"label": "VPN", "amount": 100}],
    }
    refused = call(telegram, bot, "createInvoiceLink", **(invoice | changes))
    assert (refused.status_code, refused.json()["description"]) == (400, f"Bad Request: {error}")
    assert call(telegram, bot, "createInvoiceLink", **invoice).status_code == 200


def test_an_invoice_in_the_chat_is_paid_once_the_bot_says_ok(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    buyer = telegram.user()
    form = {
        "chat_id": str(buyer.id),
        "title": "VPN",
        "description": "30 days",
        "payload": "pay_2",
        "currency": "XTR",
        "prices": '[{"label": "VPN", "amount": 100}]',  # a form: JSON text, as the API takes it
    }
    sent = httpx.post(f"{telegram.bot_url(bot)}/sendInvoice", data=form).json()["result"]
    assert sent["invoice"] == {
        "title": "VPN",
        "description": "30 days",
        "start_parameter": "",
        "currency": "XTR",
        "total_amount": 100,
    }
    checkout = telegram.begin_payment(bot, buyer, sent)
    (query,) = result(telegram, bot, "getUpdates")
    asked = query["pre_checkout_query"]
    assert (asked["invoice_payload"], asked["total_amount"]) == ("pay_2", 100)
    no_reason = call(
        telegram, bot, "answerPreCheckoutQuery", pre_checkout_query_id=asked["id"], ok=False
    )
    assert no_reason.status_code == 400
    assert result(
        telegram, bot, "answerPreCheckoutQuery", pre_checkout_query_id=asked["id"], ok=True
    )
    assert checkout.wait(1)
    assert checkout.ok
    (paid,) = result(telegram, bot, "getUpdates", offset=query["update_id"] + 1)
    payment = paid["message"]["successful_payment"]
    assert payment["telegram_payment_charge_id"] == checkout.charge_id
    assert (payment["currency"], payment["total_amount"]) == ("XTR", 100)
    twice = call(
        telegram, bot, "answerPreCheckoutQuery", pre_checkout_query_id=asked["id"], ok=True
    )
    assert twice.json()["description"] == "Bad Request: QUERY_ID_INVALID"
    refund = {"user_id": buyer.id, "telegram_payment_charge_id": checkout.charge_id}
    assert call(telegram, bot, "refundStarPayment", **(refund | {"user_id": 1})).json()[
        "description"
    ] == ("Bad Request: CHARGE_NOT_FOUND")
    assert result(telegram, bot, "refundStarPayment", **refund) is True
    again = call(telegram, bot, "refundStarPayment", **refund)
    assert again.json()["description"] == "Bad Request: CHARGE_ALREADY_REFUNDED"
    paid_in, paid_back = result(telegram, bot, "getStarTransactions")["transactions"]
    assert (paid_in["id"], paid_in["amount"]) == (checkout.charge_id, 100)
    assert paid_in["source"]["invoice_payload"] == "pay_2"
    assert paid_in["source"]["user"]["id"] == buyer.id
    assert paid_back["receiver"]["user"]["id"] == buyer.id
    assert result(telegram, bot, "getStarTransactions", offset=1, limit=1)["transactions"] == [
        paid_back
    ]
    assert call(telegram, bot, "getStarTransactions", limit=0).status_code == 400


def test_down_answers_502_and_does_nothing(telegram: TelegramEmulator, bot: Bot) -> None:
    buyer = telegram.user()
    telegram.down = True
    try:
        assert call(telegram, bot, "sendMessage", chat_id=buyer.id, text="x").status_code == 502
    finally:
        telegram.down = False
    assert telegram.sent(bot, buyer) == []


def test_a_pre_checkout_answered_too_late_takes_nothing(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    link = result(
        telegram,
        bot,
        "createInvoiceLink",
        title="VPN",
        description="30 days",
        payload="pay_3",
        currency="XTR",
        prices=[{"label": "VPN", "amount": 5}],
    )
    telegram.pre_checkout_window = 0.05
    try:
        checkout = telegram.pay(bot, telegram.user(), link, timeout=0.1)  # nobody answers
        assert not checkout.answered.is_set()
        (query,) = result(telegram, bot, "getUpdates")
        late = call(
            telegram,
            bot,
            "answerPreCheckoutQuery",
            pre_checkout_query_id=query["pre_checkout_query"]["id"],
            ok=True,
        )
    finally:
        telegram.pre_checkout_window = 10.0
    assert late.status_code == 400
    assert checkout.charge_id is None
    assert result(telegram, bot, "getUpdates", offset=query["update_id"] + 1) == []


def test_multipart_forms_commands_and_dropping_pending_updates(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    """aiogram sends every call as multipart/form-data, objects as JSON text."""
    buyer = telegram.user()
    markup = {"inline_keyboard": [[{"text": "Renew", "callback_data": "renew"}]]}
    form = {"chat_id": str(buyer.id), "text": "Ends soon", "reply_markup": json.dumps(markup)}
    sent = httpx.post(f"{telegram.bot_url(bot)}/sendMessage", data=form, files={"unused": b""})
    assert sent.request.headers["content-type"].startswith("multipart/form-data")
    assert sent.json()["result"]["reply_markup"] == markup
    commands = [{"command": "start", "description": "Start"}]
    assert result(telegram, bot, "setMyCommands", commands=commands) is True
    assert bot.commands == commands
    assert call(telegram, bot, "setMyCommands", commands=[{"command": "x"}]).status_code == 400
    telegram.send_text(bot, buyer, "/start")
    assert result(telegram, bot, "getWebhookInfo")["pending_update_count"] == 1
    assert result(telegram, bot, "deleteWebhook", drop_pending_updates=True) is True
    assert result(telegram, bot, "getUpdates") == []
