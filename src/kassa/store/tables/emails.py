"""Receipt e-mails to customers (`kassa.services.emails`)."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from kassa.store.tables.base import ID, metadata
from kassa.store.types import UtcDateTime

# Receipt e-mails to customers (`kassa.services.emails`): one per payment.succeeded or
# refund.succeeded event whose payment has a customer e-mail, written by the event consumer
# and sent by a background job.

receipt_emails = Table(
    "receipt_emails",
    metadata,
    #: The event the e-mail tells of: at most one e-mail per event.
    Column("event_id", String(ID), primary_key=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False),
    Column("payment_id", String(ID), ForeignKey("payments.id"), nullable=False, index=True),
    Column("refund_id", String(ID), ForeignKey("refunds.id")),
    Column("recipient", String(254), nullable=False),
    #: `pending`, `sent`, `skipped` (no SMTP server configured) or `failed` (given up on).
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    #: When the sending job next takes it (a claim moves it a lease ahead); null once final.
    Column("next_attempt_at", UtcDateTime),
    #: The Message-ID it was sent with (the same at every attempt).
    Column("message_id", String(255)),
    Column("error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    Index("ix_receipt_emails_due", "next_attempt_at"),
)
