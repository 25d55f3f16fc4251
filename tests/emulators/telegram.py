"""An emulator of the Telegram Bot API, its buyers and their Stars, served on loopback.

Written from the Bot API as `reference/providers.md` §4 and `reference/bot-and-agent.md` part
A describe it, not from Kassa's modules, so the tests check one against the other:

- `/bot<token>/<method>`, or `/bot<token>/test/<method>` for a bot of Telegram's test
  environment (the default here; a token works in its own environment only), by GET or
  POST (JSON, or a form, urlencoded or multipart as aiogram sends it, objects and arrays
  as JSON text). Answers
  `{"ok": true, "result"}` or `{"ok": false, "error_code", "description"}` with the code
  as the HTTP status, plus `"parameters": {"retry_after"}` on a 429. An unknown token is
  `401 Unauthorized`, an unknown method `404 Not Found`.
- Methods: `getMe`, `setMyCommands` (`language_code`: for the users of that language);
  `setWebhook` (`url`, `secret_token` of 1-256 characters `A-Za-z0-9_-`, `allowed_updates`,
  `drop_pending_updates`; an empty `url` removes it; unlike Telegram, plain HTTP on loopback
  is accepted), `deleteWebhook` (`drop_pending_updates`), `getWebhookInfo` (`url`,
  `pending_update_count`, `last_error_date` and `last_error_message` of the last failed
  delivery, `allowed_updates`);
  `getUpdates` (`offset` confirms every update below it, `limit` 1-100, `timeout` seconds of
  long polling, `allowed_updates`; updates are kept until a higher offset confirms them, a
  second poll at once ends the first with `409 Conflict`, and so does any poll while a
  webhook is set);
  `sendMessage`, `editMessageText` ("message is not modified" when nothing changes),
  `sendPhoto` (a file uploaded in the multipart form, as `attach://<name>` or under `photo`
  itself, or the `file_id` of a photo sent before; `caption` at most 1024 characters; the
  message's `photo` is one size, and `photo_bytes(file_id)` gives the image back),
  `answerCallbackQuery`; `sendInvoice` and `createInvoiceLink` (title 1-32 characters,
  description 1-255, payload 1-128 bytes, `XTR` with an empty `provider_token` and exactly
  one price, a positive whole number of Stars; other currencies are refused, as no card
  provider is connected to the emulated bots; an invoice's `reply_markup`, if given, starts
  with a Pay button, else `REPLY_MARKUP_BUY_EMPTY`, the emulator's choice of name);
  `answerPreCheckoutQuery` (`error_message` required when `ok` is false; answered after
  10 s, the query is too old);
  `refundStarPayment` (`user_id`, `telegram_payment_charge_id` → `true`; a second refund is
  `CHARGE_ALREADY_REFUNDED`; a charge unknown, or not that user's, `CHARGE_NOT_FOUND`, the
  emulator's choice of name); `getStarTransactions` (`offset`, `limit` 1-100: the bot's
  transactions oldest first, a payment's `id` its charge id and its `source` a user with the
  `invoice_payload`, a refund's `receiver` the user: third-party documentation's shape).
- Buyers, from Python: `user` makes a Telegram account, `group` a group chat; `send_text`
  (in the user's private chat or a group; a command gets its `bot_command` entity),
  `press` (a `callback_query` on a button the bot sent), `begin_payment` / `pay` (a
  `pre_checkout_query`; once the bot answers `ok`, the payment is taken and a message with
  `successful_payment` and a new `telegram_payment_charge_id` follows), `deliver_again` (a
  message, such as a `successful_payment`, comes again in a new update), `block` (the user
  blocked the bot: sending to them is `403`). Inspection: `sent` (what the bot sent a
  chat), `callback_answers`, `invoices`, `charges`, `calls`.
- Webhooks: while a bot has one, a thread posts its updates to the URL one at a time, in
  order, as JSON with the secret in `X-Telegram-Bot-Api-Secret-Token`; an update is done
  once answered 2xx, and tried again after `webhook_retry` seconds otherwise (Telegram's own
  pause between retries is not documented; the emulator's is short). `deliveries` on the bot
  lists every attempt; `repost` posts a delivered update once more, as Telegram does when
  its connection broke before the answer.
- Faults: `limit(retry_after, calls, method=, after=)` answers the next calls (of `method`
  only, once `after` of them went through) `429` with `retry_after`; while `down` is set,
  every call answers `502 Bad Gateway` and does nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.emulators.telegram_wire import (
    POLL_STEP,
    PRE_CHECKOUT_WINDOW,
    SECRET_HEADER,
    SECRET_TOKEN,
    TOO_OLD,
    ApiError,
    Bot,
    Checkout,
    Document,
    User,
    bad_request,
    int_param,
    read_params,
)
from tests.live import LiveApp

__all__ = ["Bot", "Checkout", "TelegramEmulator", "User", "running"]


class TelegramEmulator:
    """The emulator; serve `app` (`running()` does) and set `url`."""

    def __init__(self) -> None:
        self.url = ""
        self.down = False
        #: Set when the emulator stops: long polls end at once instead of at their timeout.
        self.closing = False
        #: How long a pre-checkout query waits for its answer (shorter in a test of it).
        self.pre_checkout_window = PRE_CHECKOUT_WINDOW
        self.bots: dict[str, Bot] = {}
        self.users: dict[int, User] = {}
        #: Invoices by their slug (links) or by (chat, message id) (sent in a chat).
        self.invoices: dict[str, Document] = {}
        self.checkouts: dict[str, Checkout] = {}
        #: Stars payments taken: charge id → {bot, user_id, amount, payload, refunded}.
        self.charges: dict[str, Document] = {}
        self.callback_answers: dict[str, Document] = {}
        #: Callback queries made by `press`: query id → the bot's id.
        self.callback_queries: dict[str, int] = {}
        #: Photos sent, by file id: their bytes as uploaded.
        self.files: dict[str, bytes] = {}
        #: Every call with a known token: (bot username, method, parameters).
        self.calls: list[tuple[str, str, Document]] = []
        #: Pending 429s: [method (lowercase) or None for any, calls to let through first,
        #: retry_after].
        self._limited: list[list[Any]] = []
        #: Group chats by id (negative, as Telegram's are).
        self.groups: dict[int, Document] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        #: Seconds before a failed webhook delivery is tried again.
        self.webhook_retry = 0.2
        self._poster: threading.Thread | None = None
        paths = ("/bot{token}/{method}", "/bot{token}/test/{method}")
        self.app = Starlette(routes=[Route(p, self._api, methods=["GET", "POST"]) for p in paths])

    @property
    def api_url(self) -> str:
        """The Bot API server's base (what `api_url` and `KASSA_TELEGRAM_API_URL` take)."""
        return self.url

    def bot_url(self, bot: Bot) -> str:
        """Where `bot`'s calls go: `{bot_url}/{method}`."""
        return f"{self.url}/bot{bot.token}" + ("/test" if bot.test_environment else "")

    # Set-up and the people on Telegram, driven from tests.

    def add_bot(self, username: str | None = None, *, test_environment: bool = True) -> Bot:
        bot_id = 6_000_000_000 + secrets.randbelow(999_999_999)
        token = f"{bot_id}:AA{secrets.token_urlsafe(24)[:33]}"
        bot = Bot(bot_id, token, username or f"kassa{secrets.token_hex(3)}_bot")
        bot.test_environment = test_environment
        with self._lock:
            self.bots[token] = bot
        return bot

    def user(self, first_name: str = "Buyer", *, language_code: str = "en") -> User:
        user = User(100_000_000 + secrets.randbelow(899_999_999), first_name, language_code)
        with self._lock:
            self.users[user.id] = user
        return user

    def limit(
        self, *, retry_after: int = 1, calls: int = 1, method: str | None = None, after: int = 0
    ) -> None:
        """The next `calls` calls (any bot's; of `method` only, if given, once `after` of
        them went through) answer 429 with `retry_after` seconds."""
        with self._lock:
            name = method.lower() if method else None
            self._limited.extend([name, after, retry_after] for _ in range(calls))

    def group(self, title: str = "Owners") -> Document:
        """A group chat (the users who write in it are its members)."""
        chat_id = -1_000_000_000 - secrets.randbelow(10**9)
        chat: Document = {"id": chat_id, "type": "group", "title": title}
        with self._lock:
            self.groups[chat_id] = chat
        return chat

    def block(self, bot: Bot, user: User) -> None:
        with self._lock:
            bot.blocked_by.add(user.id)

    def send_text(
        self, bot: Bot, user: User, text: str, *, chat: Document | None = None
    ) -> Document:
        """The user writes `text` to the bot (a command: `/start ref_x`), in their private
        chat or in a `group`; returns the message."""
        message = self._message(bot, chat or user.chat(), text=text, sender=user.document())
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        self._push(bot, {"message": message})
        return message

    def press(self, bot: Bot, user: User, message: Mapping[str, Any], data: str) -> str:
        """The user taps the inline button with callback `data` under the bot's `message`;
        returns the callback query's id."""
        markup = message.get("reply_markup") or {}
        buttons = [button for row in markup.get("inline_keyboard", []) for button in row]
        if not any(button.get("callback_data") == data for button in buttons):
            raise ValueError(f"the message has no button with callback data {data!r}")
        query_id = str(secrets.randbelow(10**18))
        query = {
            "id": query_id,
            "from": user.document(),
            "message": dict(message),
            "chat_instance": str(user.id),
            "data": data,
        }
        with self._lock:
            self.callback_queries[query_id] = bot.id
            self._push(bot, {"callback_query": query})
        return query_id

    def begin_payment(self, bot: Bot, user: User, invoice: str | Mapping[str, Any]) -> Checkout:
        """The user taps Pay on an invoice (a link from `createInvoiceLink`, or a message
        from `sendInvoice`): the bot gets a `pre_checkout_query`. The payment is taken when
        the bot answers `ok` (see `Checkout.wait`)."""
        with self._lock:
            # The buyer's Stars balance is always enough: the emulator plays no top-ups.
            found = self._invoice(bot, invoice)
            query_id = str(secrets.randbelow(10**18))
            checkout = Checkout(query_id, bot, user, found, time.monotonic())
            self.checkouts[query_id] = checkout
            query = {
                "id": query_id,
                "from": user.document(),
                "currency": found["currency"],
                "total_amount": found["total_amount"],
                "invoice_payload": found["payload"],
            }
            self._push(bot, {"pre_checkout_query": query})
        return checkout

    def pay(
        self, bot: Bot, user: User, invoice: str | Mapping[str, Any], *, timeout: float = 10.0
    ) -> Checkout:
        """`begin_payment`, then wait for the bot's answer (another thread plays the bot)."""
        checkout = self.begin_payment(bot, user, invoice)
        checkout.wait(timeout)
        return checkout

    def deliver_again(self, bot: Bot, message: Mapping[str, Any]) -> None:
        """`message` comes to the bot once more, in a new update: what a bot gets when it
        did not confirm the first (a crash, or a second process polling the same bot)."""
        self._push(bot, {"message": dict(message)})

    def sent(self, bot: Bot, user: User | Document) -> list[Document]:
        """What the bot sent to the user's chat (or a `group`), oldest first (as last
        edited)."""
        chat_id = user.id if isinstance(user, User) else user["id"]
        with self._lock:
            return [
                dict(message)
                for (chat, _), message in sorted(bot.messages.items())
                if chat == chat_id and message["from"]["id"] == bot.id
            ]

    def _invoice(self, bot: Bot, invoice: str | Mapping[str, Any]) -> Document:
        if isinstance(invoice, str):
            slug = invoice.rsplit("$", 1)[-1]
            found = self.invoices.get(slug)
        else:
            found = self.invoices.get(f"{invoice['chat']['id']}/{invoice['message_id']}")
        if found is None or found["bot"] != bot.id:
            raise ValueError("no such invoice of this bot")
        return found

    def _push(self, bot: Bot, update: Document) -> None:
        with self._lock:
            bot.updates.append({"update_id": next(self._ids) + 500_000, **update})

    def _message(self, bot: Bot, chat: Document, *, sender: Document, **fields: Any) -> Document:
        message = {
            "message_id": next(self._ids),
            "from": sender,
            "chat": chat,
            "date": int(time.time()),
            **fields,
        }
        with self._lock:
            bot.messages[(chat["id"], message["message_id"])] = message
        return message

    # The API.

    async def _api(self, request: Request) -> Response:
        if self.down:
            return JSONResponse({"ok": False, "error_code": 502, "description": "Bad Gateway"}, 502)
        try:
            params = await read_params(request)
            with self._lock:
                bot = self.bots.get(str(request.path_params["token"]))
                test = request.url.path.split("/")[2] == "test"
                if bot is None or bot.test_environment != test:
                    raise ApiError(401, "Unauthorized")
                method = str(request.path_params["method"])
                self.calls.append((bot.username, method, params))
                retry_after = self._take_limit(method)
                if retry_after is not None:
                    raise ApiError(
                        429, f"Too Many Requests: retry after {retry_after}", retry_after
                    )
            if method.lower() == "getupdates":
                result = await self._get_updates(bot, params)
            else:
                operation = self._operations().get(method.lower())
                if operation is None:
                    raise ApiError(404, "Not Found")
                with self._lock:
                    result = operation(bot, params)
            return JSONResponse({"ok": True, "result": result})
        except ApiError as error:
            body: Document = {
                "ok": False,
                "error_code": error.code,
                "description": error.description,
            }
            if error.retry_after is not None:
                body["parameters"] = {"retry_after": error.retry_after}
            return JSONResponse(body, error.code)

    def _take_limit(self, method: str) -> int | None:
        """The `retry_after` of a 429 for this call, if `limit` set one up for it."""
        for limit in self._limited:
            name, after, retry_after = limit
            if name not in (None, method.lower()):
                continue
            if after > 0:
                limit[1] -= 1
                return None
            self._limited.remove(limit)
            return int(retry_after)
        return None

    def _operations(self) -> dict[str, Any]:
        return {
            "getme": lambda bot, params: bot.document(),
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._webhook_info,
            "setmycommands": self._set_my_commands,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "sendphoto": self._send_photo,
            "answercallbackquery": self._answer_callback_query,
            "sendinvoice": self._send_invoice,
            "createinvoicelink": self._create_invoice_link,
            "answerprecheckoutquery": self._answer_pre_checkout_query,
            "refundstarpayment": self._refund_star_payment,
            "getstartransactions": self._get_star_transactions,
        }

    def _delete_webhook(self, bot: Bot, params: Document) -> bool:
        """The webhook is removed (long polling works again); `drop_pending_updates` drops."""
        if params.get("drop_pending_updates") in (True, "true", "True"):
            bot.updates.clear()
        bot.webhook_url, bot.webhook_secret, bot.webhook_allowed = "", None, None
        bot.webhook_error = None
        return True

    def _set_webhook(self, bot: Bot, params: Document) -> bool:
        url = params.get("url")
        if not isinstance(url, str):
            raise bad_request("url is required")
        if not url:
            return self._delete_webhook(bot, params)
        if not url.startswith(("https://", "http://")):
            raise bad_request("bad webhook: HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not SECRET_TOKEN.fullmatch(str(secret)):
            raise bad_request("bad webhook: secret token contains unallowed characters")
        if params.get("drop_pending_updates") in (True, "true", "True"):
            bot.updates.clear()
        allowed = params.get("allowed_updates")
        bot.webhook_url = url
        bot.webhook_secret = None if secret is None else str(secret)
        bot.webhook_allowed = list(allowed) if allowed else None
        bot.webhook_error, bot.deliver_after = None, 0.0
        if self._poster is None:
            self._poster = threading.Thread(target=self._post_updates, daemon=True)
            self._poster.start()
        return True

    def _webhook_info(self, bot: Bot, params: Document) -> Document:
        info: Document = {
            "url": bot.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(bot.updates),
        }
        if bot.webhook_allowed is not None:
            info["allowed_updates"] = list(bot.webhook_allowed)
        if bot.webhook_error is not None:
            info["last_error_date"], info["last_error_message"] = bot.webhook_error
        return info

    # Webhook deliveries, from a thread of their own.

    def repost(self, bot: Bot, update_id: int) -> int | None:
        """Post a delivered update to the bot's webhook once more; the answer's status."""
        update = next(u for u in bot.delivered if u["update_id"] == update_id)
        with httpx.Client(timeout=10) as http:
            return self._post(bot, update, http)

    def _post_updates(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self.closing:
                for bot in list(self.bots.values()):
                    self._deliver_next(bot, http)
                time.sleep(POLL_STEP)

    def _deliver_next(self, bot: Bot, http: httpx.Client) -> None:
        with self._lock:
            if not bot.webhook_url or time.monotonic() < bot.deliver_after or self.down:
                return
            allowed = bot.webhook_allowed
            # Updates of types the webhook does not take are dropped, as Telegram does.
            bot.updates = [
                u for u in bot.updates if allowed is None or any(k in u for k in allowed)
            ]
            if not bot.updates:
                return
            update = bot.updates[0]
        status = self._post(bot, update, http)
        with self._lock:
            if status is not None and 200 <= status < 300:
                bot.delivered.append(update)
                bot.updates = [u for u in bot.updates if u is not update]
                return
            bot.webhook_error = (int(time.time()), f"Wrong response from the webhook: {status}")
            bot.deliver_after = time.monotonic() + self.webhook_retry

    def _post(self, bot: Bot, update: Document, http: httpx.Client) -> int | None:
        headers = {"Content-Type": "application/json"}
        if bot.webhook_secret is not None:
            headers[SECRET_HEADER] = bot.webhook_secret
        try:
            status: int | None = http.post(
                bot.webhook_url, content=json.dumps(update), headers=headers
            ).status_code
        except httpx.HTTPError:
            status = None
        with self._lock:
            bot.deliveries.append((update["update_id"], status))
        return status

    def _set_my_commands(self, bot: Bot, params: Document) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or not all(
            isinstance(c, dict) and c.get("command") and c.get("description") for c in commands
        ):
            raise bad_request("BOT_COMMANDS_INVALID")
        listed = [dict(command) for command in commands]
        language = params.get("language_code")
        if language:
            bot.localized_commands[str(language)] = listed
        else:
            bot.commands = listed
        return True

    async def _get_updates(self, bot: Bot, params: Document) -> list[Document]:
        offset = int_param(params.get("offset", 0), "offset")
        limit = int_param(params.get("limit", 100), "limit")
        timeout = int_param(params.get("timeout", 0), "timeout")
        if not 1 <= limit <= 100:
            raise bad_request("limit must be between 1 and 100")
        allowed = params.get("allowed_updates") or None
        with self._lock:
            if bot.webhook_url:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use "
                    "deleteWebhook to delete the webhook first",
                )
            bot.poll += 1
            poll = bot.poll
            if offset:
                bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if bot.poll != poll:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that "
                        "only one bot instance is running",
                    )
                found = [
                    dict(u)
                    for u in bot.updates
                    if allowed is None or any(kind in u for kind in allowed)
                ]
                if found or self.closing or time.monotonic() >= deadline:
                    return found[:limit]
            await asyncio.sleep(POLL_STEP)

    def _chat(self, bot: Bot, params: Document) -> User:
        chat_id = int_param(params.get("chat_id"), "chat_id")
        if chat_id in self.groups:
            return User(chat_id, self.groups[chat_id]["title"], chat_type="group")
        user = self.users.get(chat_id)
        if user is None:
            raise bad_request("chat not found")
        if user.id in bot.blocked_by:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return user

    def _send_message(self, bot: Bot, params: Document) -> Document:
        user = self._chat(bot, params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise bad_request("message text is empty")
        if len(text) > 4096:
            raise bad_request("message is too long")
        fields: Document = {"text": text}
        if params.get("reply_markup"):
            fields["reply_markup"] = params["reply_markup"]
        return self._message(bot, user.chat(), sender=bot.document(), **fields)

    def _send_photo(self, bot: Bot, params: Document) -> Document:
        user = self._chat(bot, params)
        photo = params.get("photo")
        if isinstance(photo, str) and photo.startswith("attach://"):
            photo = params.get(photo.removeprefix("attach://"))
        if isinstance(photo, str) and photo in self.files:
            file_id = photo
        elif isinstance(photo, bytes) and photo:
            file_id = f"AgAC{secrets.token_urlsafe(24)}"
            self.files[file_id] = photo
        else:
            raise bad_request("wrong file identifier/HTTP URL specified")
        caption = params.get("caption")
        if caption is not None and len(str(caption)) > 1024:
            raise bad_request("message caption is too long")
        size = {
            "file_id": file_id,
            "file_unique_id": file_id[-16:],
            "width": 0,  # the emulator does not read images
            "height": 0,
            "file_size": len(self.files[file_id]),
        }
        fields: Document = {"photo": [size]}
        if caption:
            fields["caption"] = str(caption)
        if params.get("reply_markup"):
            fields["reply_markup"] = params["reply_markup"]
        return self._message(bot, user.chat(), sender=bot.document(), **fields)

    def photo_bytes(self, file_id: str) -> bytes:
        """The image of a photo the bot sent."""
        with self._lock:
            return self.files[file_id]

    def _edit_message_text(self, bot: Bot, params: Document) -> Document:
        user = self._chat(bot, params)
        key = (user.id, int_param(params.get("message_id"), "message_id"))
        message = bot.messages.get(key)
        if message is None or message["from"]["id"] != bot.id:
            raise bad_request("message to edit not found")
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise bad_request("message text is empty")
        markup = params.get("reply_markup") or message.get("reply_markup")
        if text == message.get("text") and markup == message.get("reply_markup"):
            raise bad_request(
                "message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message"
            )
        message.update(text=text, edit_date=int(time.time()))
        if markup:
            message["reply_markup"] = markup
        return dict(message)

    def _answer_callback_query(self, bot: Bot, params: Document) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if self.callback_queries.get(query_id) != bot.id or query_id in self.callback_answers:
            raise bad_request(TOO_OLD)
        self.callback_answers[query_id] = {
            "text": params.get("text"),
            "show_alert": params.get("show_alert") in (True, "true"),
        }
        return True

    def _invoice_fields(self, params: Document) -> Document:
        title, description = params.get("title"), params.get("description")
        if not isinstance(title, str) or not 1 <= len(title) <= 32:
            raise bad_request("TITLE_INVALID")
        if not isinstance(description, str) or not 1 <= len(description) <= 255:
            raise bad_request("DESCRIPTION_INVALID")
        payload = params.get("payload")
        if not isinstance(payload, str) or not 1 <= len(payload.encode()) <= 128:
            raise bad_request("INVOICE_PAYLOAD_INVALID")
        currency = params.get("currency")
        prices = params.get("prices")
        if not isinstance(prices, list) or not prices:
            raise bad_request("prices must be non-empty")
        if currency != "XTR":
            # Card providers need a provider token from @BotFather; none is set up here.
            raise bad_request("PAYMENT_PROVIDER_INVALID")
        if params.get("provider_token") not in (None, ""):
            raise bad_request("PAYMENT_PROVIDER_INVALID")
        if len(prices) != 1:
            raise bad_request("STARS_INVOICE_INVALID")
        (price,) = prices
        amount = price.get("amount") if isinstance(price, dict) else None
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
        if not isinstance(price.get("label"), str) or not price["label"]:
            raise bad_request("LABEL_INVALID")
        return {
            "title": title,
            "description": description,
            "payload": payload,
            "currency": currency,
            "total_amount": amount,
        }

    def _create_invoice_link(self, bot: Bot, params: Document) -> str:
        invoice = self._invoice_fields(params)
        slug = secrets.token_urlsafe(12)
        self.invoices[slug] = {**invoice, "bot": bot.id, "link": f"https://t.me/${slug}"}
        return f"https://t.me/${slug}"

    def _send_invoice(self, bot: Bot, params: Document) -> Document:
        user = self._chat(bot, params)
        invoice = self._invoice_fields(params)
        shown = {
            "title": invoice["title"],
            "description": invoice["description"],
            "start_parameter": params.get("start_parameter") or "",
            "currency": invoice["currency"],
            "total_amount": invoice["total_amount"],
        }
        fields: Document = {"invoice": shown}
        markup = params.get("reply_markup")
        if markup:
            buttons = [button for row in markup.get("inline_keyboard", []) for button in row]
            if not buttons or not buttons[0].get("pay"):
                raise bad_request("REPLY_MARKUP_BUY_EMPTY")
            fields["reply_markup"] = markup
        message = self._message(bot, user.chat(), sender=bot.document(), **fields)
        self.invoices[f"{user.id}/{message['message_id']}"] = {**invoice, "bot": bot.id}
        return message

    def _answer_pre_checkout_query(self, bot: Bot, params: Document) -> bool:
        checkout = self.checkouts.get(str(params.get("pre_checkout_query_id", "")))
        if checkout is None or checkout.bot is not bot or checkout.answered.is_set():
            raise bad_request("QUERY_ID_INVALID")
        if time.monotonic() - checkout.asked_at > self.pre_checkout_window:
            raise bad_request(TOO_OLD)
        ok = params.get("ok") in (True, "true", "True", "1")
        error_message = params.get("error_message")
        if not ok and not error_message:
            raise bad_request("error_message must be non-empty when ok is false")
        checkout.ok, checkout.error_message = ok, None if ok else str(error_message)
        if ok:
            checkout.charge_id = f"stx{secrets.token_urlsafe(48)}"
            self.charges[checkout.charge_id] = {
                "bot": bot.id,
                "user_id": checkout.user.id,
                "amount": checkout.invoice["total_amount"],
                "payload": checkout.invoice["payload"],
                "refunded": False,
            }
            source = {
                "type": "user",
                "transaction_type": "invoice_payment",
                "user": checkout.user.document(),
                "invoice_payload": checkout.invoice["payload"],
            }
            bot.transactions.append(
                {
                    "id": checkout.charge_id,
                    "amount": checkout.invoice["total_amount"],
                    "date": int(time.time()),
                    "source": source,
                }
            )
            paid = {
                "currency": checkout.invoice["currency"],
                "total_amount": checkout.invoice["total_amount"],
                "invoice_payload": checkout.invoice["payload"],
                "telegram_payment_charge_id": checkout.charge_id,
                "provider_payment_charge_id": "",
            }
            message = self._message(
                bot,
                checkout.user.chat(),
                sender=checkout.user.document(),
                successful_payment=paid,
            )
            checkout.message = message
            self._push(bot, {"message": message})
        checkout.answered.set()
        return True

    def _refund_star_payment(self, bot: Bot, params: Document) -> bool:
        user_id = int_param(params.get("user_id"), "user_id")
        charge = self.charges.get(str(params.get("telegram_payment_charge_id", "")))
        if charge is None or charge["bot"] != bot.id or charge["user_id"] != user_id:
            raise bad_request("CHARGE_NOT_FOUND")
        if charge["refunded"]:
            raise bad_request("CHARGE_ALREADY_REFUNDED")
        charge["refunded"] = True
        receiver = {"type": "user", "user": self.users[user_id].document()}
        refund = {"amount": charge["amount"], "date": int(time.time()), "receiver": receiver}
        bot.transactions.append({"id": f"{params['telegram_payment_charge_id']}"} | refund)
        return True

    def _get_star_transactions(self, bot: Bot, params: Document) -> Document:
        offset = int_param(params.get("offset", 0), "offset")
        limit = int_param(params.get("limit", 100), "limit")
        if offset < 0 or not 1 <= limit <= 100:
            raise bad_request("offset is non-negative, limit between 1 and 100")
        return {"transactions": [dict(t) for t in bot.transactions[offset : offset + limit]]}


@contextmanager
def running() -> Iterator[TelegramEmulator]:
    """An emulator served on loopback for the duration of the block."""
    emulator = TelegramEmulator()
    live = LiveApp(emulator.app, name="telegram-emulator").start()
    emulator.url = live.url
    try:
        yield emulator
    finally:
        emulator.closing = True
        live.stop()
