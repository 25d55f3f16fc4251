"""The Bot API emulator's values (users, bots, checkouts), its errors, and how it reads a
call's parameters; the emulator itself is `tests/emulators/telegram.py`."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

Document = dict[str, Any]

#: How long Telegram waits for the answer to a pre-checkout query [reference §4.2].
PRE_CHECKOUT_WINDOW = 10.0
#: How often a waiting long poll looks for new updates (the emulator's own pace).
POLL_STEP = 0.01
#: The header a webhook's secret is sent in [reference providers.md §4].
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: What `secret_token` may be: 1-256 characters of A-Z, a-z, 0-9, _ and -.
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
#: Form parameters whose value is JSON text in the Bot API.
_JSON_PARAMS = frozenset({"prices", "reply_markup", "allowed_updates", "entities", "commands"})


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


def bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


@dataclass
class User:
    """A Telegram account: a buyer (or the shop's owner) writing to bots."""

    id: int
    first_name: str
    language_code: str = "en"
    username: str | None = None
    #: What kind of chat writing to them is: their private chat, or a group's (a group
    #: is played by a `User` with the group's id and title).
    chat_type: str = "private"

    def document(self) -> Document:
        user: Document = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            user["username"] = self.username
        return user | {"language_code": self.language_code}

    def chat(self) -> Document:
        if self.chat_type != "private":
            return {"id": self.id, "type": self.chat_type, "title": self.first_name}
        return {"id": self.id, "type": "private", "first_name": self.first_name}


@dataclass
class Bot:
    """A bot made with @BotFather: its token and its state at Telegram."""

    id: int
    token: str
    username: str
    updates: list[Document] = field(default_factory=list)
    #: Messages the bot sent or that were sent to it, by (chat id, message id).
    messages: dict[tuple[int, int], Document] = field(default_factory=dict)
    blocked_by: set[int] = field(default_factory=set)
    #: Made in Telegram's test environment: called at `/bot<token>/test/<method>` only.
    test_environment: bool = True
    #: The poll that is waiting now (a newer one ends it with 409).
    poll: int = 0
    #: The command menu set by `setMyCommands` for every user (no `language_code`)...
    commands: list[Document] = field(default_factory=list)
    #: ... and for the users of a language (its `language_code`).
    localized_commands: dict[str, list[Document]] = field(default_factory=dict)
    #: Its Stars transactions, oldest first, as `getStarTransactions` lists them.
    transactions: list[Document] = field(default_factory=list)
    #: The webhook `setWebhook` set ("" for none), its secret and the update types it takes.
    webhook_url: str = ""
    webhook_secret: str | None = None
    webhook_allowed: list[str] | None = None
    #: The updates the webhook took (answered 2xx), oldest first.
    delivered: list[Document] = field(default_factory=list)
    #: Every webhook delivery attempt: (update id, HTTP status, or None if none came back).
    deliveries: list[tuple[int, int | None]] = field(default_factory=list)
    #: The last failed delivery's (unix time, description), as `getWebhookInfo` shows it.
    webhook_error: tuple[int, str] | None = None
    #: When (monotonic) the next delivery may be tried: after a failure, a pause.
    deliver_after: float = 0.0

    def document(self) -> Document:
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.username.removesuffix("_bot").title(),
            "username": self.username,
        }


@dataclass
class Checkout:
    """A buyer's tap on Pay: the pre-checkout query and what became of it."""

    query_id: str
    bot: Bot
    user: User
    invoice: Document
    asked_at: float
    answered: threading.Event = field(default_factory=threading.Event)
    ok: bool | None = None
    error_message: str | None = None
    #: The charge, once the payment was taken, and the `successful_payment` message.
    charge_id: str | None = None
    message: Document | None = None

    def wait(self, timeout: float = PRE_CHECKOUT_WINDOW) -> bool:
        """Whether the bot answered within `timeout` (then `ok` says how)."""
        return self.answered.wait(timeout)


def int_param(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise bad_request(f"{name} is not a number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"{name} is not a number") from None


async def read_params(request: Request) -> Document:
    """The call's parameters from the query string, a JSON body or a form, urlencoded or
    multipart as aiogram sends them (whose object and array parameters are JSON text; a
    file uploaded in a multipart form is its bytes)."""
    params: Document = dict(request.query_params)
    body = await request.body()
    if body and request.headers.get("content-type", "").startswith("application/json"):
        try:
            document = json.loads(body)
        except ValueError:
            raise bad_request("can't parse JSON") from None
        if not isinstance(document, dict):
            raise bad_request("can't parse JSON")
        return params | document
    if body:
        form = await request.form()
        for name, value in form.items():
            # A file uploaded with the call (`sendPhoto`): its bytes, under its field's name.
            params[name] = value if isinstance(value, str) else await value.read()
    for name in _JSON_PARAMS & params.keys():
        if isinstance(params[name], str):
            try:
                params[name] = json.loads(params[name])
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
    return params
