"""The tables of providers that keep state of their own (`kassa.services.providers`)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from kassa.store.tables.base import ID, metadata
from kassa.store.types import Document, UtcDateTime

# Kaspi (`kassa.services.providers.kaspi`)

#: Kaspi's check/pay `pay` requests, one row per Kaspi transaction (`txn_id`) of an account:
#: the row's id is the `prv_txn_id` Kassa answered, and every repeat of the `pay` is answered
#: from it.
kaspi_transactions = Table(
    "kaspi_transactions",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("account_id", String(ID), ForeignKey("provider_accounts.id"), nullable=False),
    Column("txn_id", String(64), nullable=False),
    #: `account` as Kaspi sent it, and the payment it named if it is one of the account's.
    Column("account", String(255), nullable=False),
    Column("payment_id", String(ID), ForeignKey("payments.id"), index=True),
    #: `sum`, in tiyn.
    Column("amount", BigInteger, nullable=False),
    Column("txn_date", String(14)),
    Column("result", Integer, nullable=False),
    Column("comment", String(255), nullable=False),
    Column("notification_id", String(ID), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "txn_id"),
)

# USDT-TRC20 (`tron_usdt`, kassa.services.providers.tron_usdt)

#: The amount each payment is to send, unique per receiving address while it is held (a
#: payment's reservation is made before the payment is written, so no foreign key to it).
tron_reservations = Table(
    "tron_reservations",
    metadata,
    Column("payment_id", String(ID), primary_key=True),
    Column("address", String(64), nullable=False),
    #: Raw USDT units: the payment's price plus its tail.
    Column("amount", BigInteger, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    #: Until then no other payment to the address is given this amount.
    Column("held_until", UtcDateTime, nullable=False),
    UniqueConstraint("address", "amount"),
)

#: One row per account the watcher looks after: how far it has read, and when it looks next.
tron_watches = Table(
    "tron_watches",
    metadata,
    Column("account_id", String(ID), ForeignKey("provider_accounts.id"), primary_key=True),
    #: The block time (ms) of the newest transfer read; the next look starts a little before.
    Column("checkpoint", BigInteger, nullable=False),
    #: A claim: the worker that moves it ahead looks now; the others wait until then.
    Column("next_poll_at", UtcDateTime, nullable=False),
    Column("polled_at", UtcDateTime),
    Column("failures", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
)

#: Every transfer of the token to a watched address, and what Kassa made of it.
tron_transfers = Table(
    "tron_transfers",
    metadata,
    Column("address", String(64), primary_key=True),
    Column("transaction_id", String(80), primary_key=True),
    Column("account_id", String(ID), ForeignKey("provider_accounts.id"), nullable=False),
    Column("sender", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("block_at", UtcDateTime, nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
    #: matched, repeated, late, underpaid, overpaid or unmatched (`TransferKind`).
    Column("kind", String(16), nullable=False),
    Column("payment_id", String(ID), ForeignKey("payments.id"), index=True),
    #: The notification a match was delivered as, once it was.
    Column("notification_id", String(ID)),
    Column("raw", Document, nullable=False),
    #: For their deletion past `KASSA_TRON_TRANSFER_RETENTION_DAYS`.
    Index("ix_tron_transfers_seen_at", "seen_at"),
)
