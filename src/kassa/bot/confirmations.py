"""A pending payment's message: what the payer must do (its confirmation, in its shape) in
the buyer's words, with a "Check payment" button under it.

- `redirect` (YooKassa, CloudPayments, the sandbox) and `invoice_link` (Crypto Pay): a button
  that opens the page;
- `requisites` (1Plat's card or SBP transfer): the card or phone number, bank, holder, the
  exact amount and until when, as text (and the provider's page, if it has one);
- `crypto_transfer`: the address, the exact amount, the asset and its network, until when;
- `qr` (Kaspi): a picture of the code to scan (`qr.png`).

Telegram Stars payments are not rendered here: the bot sends their invoice (`sendInvoice`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from kassa.bot import qr
from kassa.bot.texts import Texts

#: `check:<payment id>`: the buyer asks whether the payment arrived.
CHECK_PREFIX = "check:"


def check_data(payment_id: str) -> str:
    return f"{CHECK_PREFIX}{payment_id}"


def check_button(texts: Texts, payment_id: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=texts.gettext("Check payment"), callback_data=check_data(payment_id)
    )


@dataclass(frozen=True, slots=True)
class Shown:
    """A pending payment's message: its text, buttons, and a picture (a QR code) if any."""

    text: str
    keyboard: InlineKeyboardMarkup
    photo: bytes | None = None


def _time(texts: Texts, value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return texts.time(datetime.fromisoformat(value.replace("Z", "+00:00")))


def show(
    texts: Texts,
    *,
    what: str,
    amount: int,
    currency: str,
    payment_id: str,
    confirmation: Mapping[str, Any] | None,
) -> Shown:
    """The message of a pending payment of `amount` for `what` (a plan's name, a top-up)."""
    _ = texts.gettext
    price = texts.money(amount, currency)
    lines = [_("%(what)s for %(price)s.") % {"what": what, "price": price}]
    rows: list[list[InlineKeyboardButton]] = []
    photo = None
    kind = (confirmation or {}).get("type")
    details: Mapping[str, Any] = confirmation or {}
    if kind in ("redirect", "invoice_link"):
        lines.append(_("Pay on the payment page; your access comes here once it is paid."))
        rows.append(
            [InlineKeyboardButton(text=_("Pay %(price)s") % {"price": price}, url=details["url"])]
        )
    elif kind == "requisites":
        recipient = details.get("pan") or details.get("phone")
        lines.append(
            _("Transfer exactly %(amount)s to %(recipient)s.")
            % {
                "amount": texts.money(details["amount"], details["currency"]),
                "recipient": recipient,
            }
        )
        if details.get("bank"):
            lines.append(_("Bank: %(bank)s") % {"bank": details["bank"]})
        if details.get("holder"):
            lines.append(_("Recipient: %(holder)s") % {"holder": details["holder"]})
        if details.get("url"):
            rows.append([InlineKeyboardButton(text=_("Payment page"), url=details["url"])])
    elif kind == "crypto_transfer":
        lines.append(
            _("Send exactly %(amount)s %(asset)s (network %(network)s) to this address:")
            % {
                "amount": details["amount"],
                "asset": details["asset"],
                "network": details["network"],
            }
        )
        lines.append(str(details["address"]))
    elif kind == "qr":
        lines.append(_("Scan the QR code with your banking app to pay."))
        photo = qr.png(str(details["payload"]))
    else:
        lines.append(_("Follow the payment provider's instructions to pay."))
    until = _time(texts, details.get("expires_at"))
    if until is not None and kind in ("requisites", "crypto_transfer"):
        lines.append(_("Valid until %(time)s.") % {"time": until})
    rows.append([check_button(texts, payment_id)])
    return Shown("\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows), photo)
