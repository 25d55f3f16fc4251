"""What the pages need to show a confirmation (what the payer must do) to people: the payer's
page `/pay/{payment}` and the admin's payment page render it with one macro
(`templates/_confirmation.html`), which these helpers serve as template globals.

They take the confirmation as the payment keeps it (`services.objects.confirmation_object`),
so a document written by an older Kassa, or one missing a field, still shows what it has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import segno
from markupsafe import Markup

from kassa.domain.money import to_decimal

#: The kinds of confirmation the macro shows in a form of their own; the rest (a widget, a
#: terminal) the payer page handles itself, and the admin page shows as stored fields.
SHOWN_KINDS = frozenset({"redirect", "requisites", "qr", "crypto_transfer", "invoice_link"})

#: What a link on Kassa's pages may point to: a provider's page, never `javascript:` or `data:`.
_WEB_ADDRESS = re.compile(r"https?://[^\s]+", re.IGNORECASE)
_NOT_DIGITS = re.compile(r"\D")


def shown(confirmation: Mapping[str, Any] | None) -> bool:
    """Whether the macro has a form for this confirmation."""
    return confirmation is not None and confirmation.get("type") in SHOWN_KINDS


def has_lapsed(confirmation: Mapping[str, Any], now: datetime) -> bool:
    """Whether the confirmation's own time (`expires_at`: requisites, a crypto transfer's
    amount) is over: its details may already be another payment's."""
    moment = confirmation.get("expires_at")
    if not isinstance(moment, str):
        return False
    try:
        end = datetime.fromisoformat(moment)
    except ValueError:
        return False
    return (end if end.tzinfo else end.replace(tzinfo=UTC)) <= now


def web_link(value: object) -> str | None:
    """`value` if it is an http(s) address a page can link to, else None: the documents come
    from providers' answers, and autoescaping does not stop a `javascript:` link."""
    if isinstance(value, str) and _WEB_ADDRESS.fullmatch(value):
        return value
    return None


def qr_svg(payload: object) -> Markup | None:
    """A QR code of `payload` as an inline SVG element, sized by the page's style (a viewBox,
    no width or height), with a white quiet zone so a camera finds it on a dark page too.
    None when there is nothing to encode or it does not fit in a QR code. The SVG has neither
    a script nor a style attribute, so the pages' Content-Security-Policy lets it in."""
    if not isinstance(payload, str) or not payload:
        return None
    try:
        code = segno.make(payload, error="m", micro=False)
    except segno.DataOverflowError:
        return None
    svg = code.svg_inline(
        scale=1, border=4, dark="#000", light="#fff", omitsize=True, svgclass="qr-code"
    )
    # segno escapes nothing it does not put there itself: the payload is not in the markup.
    return Markup(svg)  # noqa: S704


def card_number(pan: object) -> str:
    """A card number as it is printed on a card: digits in groups of four."""
    digits = _NOT_DIGITS.sub("", str(pan))
    return " ".join(digits[start : start + 4] for start in range(0, len(digits), 4))


def digits_of(value: object) -> str:
    """The digits alone, as a banking app's field takes a card number."""
    return _NOT_DIGITS.sub("", str(value))


def phone_number(phone: object) -> str:
    """A phone number for reading: `+7 900 123-45-67` for the 11-digit numbers of Russia and
    Kazakhstan (the countries of the providers that send phones), else as the provider wrote
    it."""
    text = str(phone)
    digits = digits_of(text)
    if len(digits) == 11 and digits[0] in "78":
        return f"+7 {digits[1:4]} {digits[4:7]}-{digits[7:9]}-{digits[9:]}"
    return text


def plain_amount(amount: int, currency: str) -> str:
    """An amount as a banking app's field takes it: the exact decimal, no grouping or symbol
    (`1500.00`)."""
    return str(to_decimal(amount, currency))


TEMPLATE_GLOBALS = {
    "confirmation_shown": shown,
    "web_link": web_link,
    "qr_svg": qr_svg,
    "card_number": card_number,
    "digits_of": digits_of,
    "phone_number": phone_number,
    "plain_amount": plain_amount,
}
