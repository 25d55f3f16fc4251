"""Payments whose confirmation is each kind a provider can ask of the payer, for the tests of
the pages that show them (the payer's page, the admin's payment page).

The providers that answer with requisites, QR codes, crypto transfers and invoice links are
written at the same time as these pages, so the tests do not wait for them: a payment is made
at the sandbox as usual (so the sandbox can still settle it and notify Kassa), then its stored
confirmation is replaced by one built from the providers' own types, written as Kassa writes
every confirmation (`confirmation_object`). What the pages read is exactly what a provider's
payment would hold.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from kassa.providers import (
    Confirmation,
    CryptoTransferConfirmation,
    InvoiceLinkConfirmation,
    QrConfirmation,
    RequisitesConfirmation,
)
from kassa.services.context import utcnow
from kassa.services.objects import confirmation_object
from kassa.store.tables import payments
from tests.helpers import create_payment
from tests.live import LiveServer

SBP_QR = (
    "https://qr.nspk.ru/AD10006M8KH5PKUA8SJ9B34LDV8AJPUR?type=02&bank=100000000111"
    "&sum=150000&cur=RUB&crc=AB75"
)
TRON_ADDRESS = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"
PROVIDER_PAGE = "https://pay.example.com/order/6c1f"
INVOICE = "https://t.me/CryptoTestnetBot?start=IVsPvnzFZgB6"


def examples() -> dict[str, Confirmation]:
    """One confirmation of each kind, for a payment of RUB 1,500.00 (the crypto one in USDT,
    with the tail that makes its amount unique)."""
    expires = utcnow() + timedelta(minutes=30)
    return {
        "card": RequisitesConfirmation(
            amount=150000,
            currency="RUB",
            pan="2200700012345678",
            bank="Альфа-Банк",
            holder="Иван П.",
            expires_at=expires,
            url=PROVIDER_PAGE,
        ),
        "phone": RequisitesConfirmation(
            amount=150037,
            currency="RUB",
            phone="+79001234567",
            bank="Сбербанк",
            holder="Анна Кузнецова",
        ),
        "qr": QrConfirmation(payload=SBP_QR),
        "crypto": CryptoTransferConfirmation(
            address=TRON_ADDRESS,
            amount="16.500137",
            asset="USDT",
            network="TRC20",
            payload=TRON_ADDRESS,
            expires_at=expires,
        ),
        "invoice": InvoiceLinkConfirmation(url=INVOICE),
    }


def set_confirmation(server: LiveServer, payment_id: str, document: dict[str, Any]) -> None:
    """Store `document` as the payment's confirmation."""

    async def write() -> None:
        async with server.ctx.db.write() as conn:
            await conn.execute(
                update(payments).where(payments.c.id == payment_id).values(confirmation=document)
            )

    server.call(write())


def payment_asking(
    server: LiveServer, api: httpx.Client, confirmation: Confirmation
) -> dict[str, Any]:
    """A new pending sandbox payment whose confirmation is `confirmation`. The document
    returned is the API's answer to the create (its confirmation is the sandbox's checkout,
    where `tests.helpers.checkout` can still pay it)."""
    payment = create_payment(api, description="Order 7")
    set_confirmation(server, payment["id"], confirmation_object(confirmation))
    return payment
