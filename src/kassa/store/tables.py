"""Kassa's tables (SQLAlchemy Core). Schema changes go through Alembic migrations only."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from kassa.store.types import Document, SequenceKey, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

ID = 40  # room for a prefix and the 26-character sortable part

#: Notifications whose event counts (see the unique index on accepted events).
ACCEPTED = text("verdict = 'accepted'")

shops = Table(
    "shops",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False, index=True),
    Column("test", Boolean, nullable=False),
    Column("prefix", String(24), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
)

provider_accounts = Table(
    "provider_accounts",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("test", Boolean, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("credentials", Document, nullable=False),
    Column("api_url", String(2048)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("shop_id", "provider", "test"),
)

payments = Table(
    "payments",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False),
    Column("test", Boolean, nullable=False),
    Column("provider", String(32), nullable=False),
    Column("provider_account_id", String(ID), ForeignKey("provider_accounts.id"), nullable=False),
    Column("method", String(32)),
    Column("provider_payment_id", String(255)),
    Column("status", String(24), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("capture", Boolean, nullable=False),
    Column("amount_captured", BigInteger, nullable=False, server_default=text("0")),
    Column("amount_refunded", BigInteger, nullable=False, server_default=text("0")),
    Column("amount_refund_pending", BigInteger, nullable=False, server_default=text("0")),
    Column("description", Text),
    Column("customer", String(255)),
    Column("metadata", Document, nullable=False),
    Column("confirmation", Document),
    Column("return_url", String(2048)),
    Column("failure_code", String(64)),
    Column("failure_message", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Index("ix_payments_shop_list", "shop_id", "test", "id"),
    Index("ix_payments_customer", "shop_id", "customer"),
    Index("ix_payments_status_expiry", "status", "expires_at"),
    Index(
        "uq_payments_provider_payment", "provider_account_id", "provider_payment_id", unique=True
    ),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("payment_id", String(ID), ForeignKey("payments.id"), nullable=False, index=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False),
    Column("test", Boolean, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("status", String(24), nullable=False),
    Column("reason", Text),
    Column("provider_refund_id", String(255)),
    Column("failure_message", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_refunds_shop_list", "shop_id", "test", "id"),
    # A refund the provider reports is recorded once, however many notices of it arrive.
    Index("uq_refunds_provider_refund", "payment_id", "provider_refund_id", unique=True),
)

#: The outbox and the audit log: one row per thing that happened, written in the same
#: transaction as the change it describes. `seq` orders rows by insertion for dispatchers.
events = Table(
    "events",
    metadata,
    Column("seq", SequenceKey, primary_key=True, autoincrement=True),
    Column("id", String(ID), nullable=False, unique=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False),
    Column("test", Boolean, nullable=False),
    Column("type", String(64), nullable=False),
    Column("source", String(24), nullable=False),
    Column("payment_id", String(ID), index=True),
    Column("refund_id", String(ID)),
    Column("data", Document, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_events_shop_list", "shop_id", "test", "id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("shop_id", String(ID), ForeignKey("shops.id"), primary_key=True),
    Column("test", Boolean, primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("resource_id", String(ID), nullable=False),
    Column("response_status", Integer),
    Column("response_body", LargeBinary),
    Column("created_at", UtcDateTime, nullable=False, index=True),
    Column("locked_at", UtcDateTime, nullable=False),
)

#: Every inbound provider notification, exactly as received, with the verdict on it.
notifications = Table(
    "notifications",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("provider", String(32), nullable=False),
    Column("shop_id", String(ID), ForeignKey("shops.id")),
    Column("shop_ref", String(255), nullable=False),
    Column("account_id", String(ID), ForeignKey("provider_accounts.id")),
    Column("kind", String(32)),
    Column("method", String(8), nullable=False),
    Column("source_ip", String(64)),
    Column("headers", Document, nullable=False),
    Column("query", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("reason", Text),
    Column("event_key", String(255)),
    Column("payment_id", String(ID)),
    Column("outcome", Text),
    Column("processed_at", UtcDateTime),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Index("ix_notifications_shop_received", "shop_id", "received_at"),
    Index(
        "uq_notifications_accepted_event",
        "provider",
        "shop_id",
        "event_key",
        unique=True,
        sqlite_where=ACCEPTED,
        postgresql_where=ACCEPTED,
    ),
    Index(
        "ix_notifications_pending",
        "received_at",
        sqlite_where=text("verdict = 'pending'"),
        postgresql_where=text("verdict = 'pending'"),
    ),
)

# The sandbox acquirer: the embedded fake provider's own records, kept apart from Kassa's
# payments exactly as a real provider's would be.
sandbox_payments = Table(
    "sandbox_payments",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False),
    Column("order_id", String(255), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("capture", Boolean, nullable=False),
    Column("method", String(32)),
    Column("status", String(24), nullable=False),
    Column("amount_captured", BigInteger, nullable=False, server_default=text("0")),
    Column("amount_refunded", BigInteger, nullable=False, server_default=text("0")),
    Column("description", Text),
    Column("return_url", String(2048)),
    Column("failure_code", String(64)),
    Column("expires_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("shop_id", "order_id"),
)

sandbox_refunds = Table(
    "sandbox_refunds",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("sandbox_payment_id", String(ID), ForeignKey("sandbox_payments.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("idempotence_key", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("sandbox_payment_id", "idempotence_key"),
)
