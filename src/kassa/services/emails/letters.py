"""A receipt e-mail's text: what it tells (`Letter`), rendered from the Jinja2 templates
beside this module in the shop's language, plain text and HTML, into one message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import AddressHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import cache, partial
from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from kassa.domain.receipts import ReceiptItem
from kassa.services import i18n

TEMPLATES = Path(__file__).resolve().parent / "templates"

_HEADERS = HeaderRegistry()


@dataclass(frozen=True, slots=True)
class Letter:
    """Everything a receipt e-mail says: about a payment that succeeded (`payment`), or a
    refund of it that did (`refund`, with `refund_amount`)."""

    event_id: str
    kind: Literal["payment", "refund"]
    shop_name: str
    language: str
    timezone: str
    sender: str
    recipient: str
    payment_id: str
    description: str | None
    amount: int
    currency: str
    happened_at: datetime
    #: What was bought, if the payment says.
    lines: Sequence[ReceiptItem] = ()
    refund_amount: int | None = None


def message_id(event_id: str, sender: str) -> str:
    """The e-mail's Message-ID, the same at every attempt to send it, so a mailbox can tell
    a second copy (sent again after a worker died between sending and recording it)."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "kassa.invalid"
    return f"<{event_id}.receipt@{domain}>"


def one_address(value: str) -> str:
    """`value` if it is one e-mail address, with or without a name (`Shop <a@shop.ru>`), that
    a header can carry as it is; `ValueError` otherwise."""
    header = _HEADERS("from", value)
    assert isinstance(header, AddressHeader)
    addresses = header.addresses
    if header.defects or len(addresses) != 1 or not (addresses[0].username and addresses[0].domain):
        raise ValueError(f"{value!r} is not one e-mail address such as Shop <receipts@shop.ru>")
    return value


@cache
def _environment(locale: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.install_gettext_translations(  # type: ignore[attr-defined]
        i18n.translations(locale), newstyle=True
    )
    return env


def render(letter: Letter) -> EmailMessage:
    """The message to send: From the shop's sender, To the customer, in the shop's language
    (English unless it is one Kassa speaks), plain text with an HTML alternative."""
    locale = letter.language if letter.language in i18n.LOCALES else i18n.DEFAULT_LOCALE
    env = _environment(locale)
    context = {
        "letter": letter,
        "money": partial(i18n.format_money, currency=letter.currency, locale=locale),
        "when": i18n.format_time(letter.happened_at, letter.timezone, locale=locale),
    }
    subject = env.get_template("subject.txt").render(context).strip()
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = letter.sender
    message["To"] = letter.recipient
    message["Date"] = format_datetime(letter.happened_at)
    message["Message-ID"] = message_id(letter.event_id, letter.sender)
    message.set_content(env.get_template("receipt.txt").render(context))
    message.add_alternative(env.get_template("receipt.html").render(context), subtype="html")
    # After the content: setting it clears the Content-* headers.
    message["Content-Language"] = locale
    return message
