"""The core's tables: shops and keys, provider accounts, payments and refunds, events,
idempotency keys, notifications, the sandbox acquirer, merchant webhooks, event consumers, the
admin UI, hub secrets and change counters, connected devices and their operations."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from kassa.store.tables.base import ID, metadata
from kassa.store.types import Document, SequenceKey, UtcDateTime

#: Notifications whose event counts (see the unique index on accepted events).
ACCEPTED = text("verdict = 'accepted'")

shops = Table(
    "shops",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    #: An IANA time zone name; the admin pages show the shop's times in it.
    Column("timezone", String(64), nullable=False, server_default="Europe/Moscow"),
    #: Fiscal receipt settings (`kassa.domain.receipts.FiscalSettings`), or null: none sent.
    Column("fiscal", Document),
    #: The language its customers' e-mails are written in (`ru` or `en`).
    Column("language", String(8), nullable=False, server_default="ru"),
    #: The sender of its receipt e-mails (`Shop <receipts@shop.example>`); none: none sent.
    Column("email_from", String(320)),
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
    #: The provider's credentials by name; secret ones encrypted (`kassa.store.keyring`).
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
    #: When reconciliation next asks the provider about this payment while it is open.
    Column("next_check_at", UtcDateTime),
    #: How often its provider asked to be polled about it, in seconds (`Payment.poll_every`).
    Column("poll_seconds", Integer),
    #: The fiscal receipt: its recipient, its lines (a list), its status at the provider.
    Column("customer_email", String(254)),
    Column("customer_phone", String(16)),
    Column("items", Document),
    Column("receipt", Document),
    Column("receipt_status", String(24)),
    Index("ix_payments_shop_list", "shop_id", "test", "id"),
    Index("ix_payments_customer", "shop_id", "customer"),
    Index("ix_payments_status_expiry", "status", "expires_at"),
    Index("ix_payments_next_check", "next_check_at"),
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
    Column("receipt_status", String(24)),
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
    #: The answer to replay; encrypted when it shows a secret (`kassa.web.idempotent`).
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
    #: The length of the body received; a rejected notification keeps only its start.
    #: NULL for rows stored before revision 0010, which kept their bodies whole.
    Column("body_length", Integer),
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
    Index(
        "ix_notifications_rejected",
        "received_at",
        sqlite_where=text("verdict = 'rejected'"),
        postgresql_where=text("verdict = 'rejected'"),
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

# Merchant webhooks: endpoints, one delivery per (event, endpoint) and every attempt at it.

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False),
    Column("test", Boolean, nullable=False),
    Column("url", String(2048), nullable=False),
    Column("description", Text),
    Column("events", Document, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text),
    # Symmetric signing keys (`whsec_…`): they must stay usable, so they cannot be hashed;
    # they are stored encrypted (`kassa.store.keyring`).
    Column("secret", Text, nullable=False),
    Column("previous_secret", Text),
    Column("previous_secret_expires_at", UtcDateTime),
    # Since when every attempt has failed (cleared by a success); 5 days of it disable.
    Column("failing_since", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_webhook_endpoints_shop_list", "shop_id", "test", "id"),
)

#: Automatic deliveries are unique per (event, endpoint), so fan-out by several workers
#: writes each once; manual resends are extra rows.
AUTOMATIC = text("NOT manual")
PENDING = text("status = 'pending'")

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("endpoint_id", String(ID), ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("event_id", String(ID), ForeignKey("events.id"), nullable=False),
    Column("manual", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UtcDateTime),
    # A worker's claim: its token, and when the claim lapses if the worker dies.
    Column("claim", String(32)),
    Column("locked_until", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_webhook_deliveries_endpoint_list", "endpoint_id", "id"),
    Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    ),
    Index(
        "uq_webhook_deliveries_fan_out",
        "event_id",
        "endpoint_id",
        unique=True,
        sqlite_where=AUTOMATIC,
        postgresql_where=AUTOMATIC,
    ),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column(
        "delivery_id", String(ID), ForeignKey("webhook_deliveries.id"), nullable=False, index=True
    ),
    Column("attempted_at", UtcDateTime, nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Column("status_code", Integer),
    Column("latency_ms", Integer, nullable=False),
    Column("response_body", Text),
    Column("error", Text),
    # `in_flight` (committed before the POST is sent), `done`, or `unknown` (its sender died).
    Column("state", String(16), nullable=False, server_default=text("'done'")),
)

#: How far a reader of the outbox (`events.seq`) has got; see `kassa.services.events.cursor`.
outbox_cursors = Table(
    "outbox_cursors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("waiting_seq", BigInteger),
    Column("waiting_since", UtcDateTime),
)

# In-process event consumers (`kassa.services.events.consumers`). Each reads the outbox through its
# own cursor, named `consumer:<name>`.

#: What each consumer has handled: written in the transaction of the consumer's own effect,
#: so the effect happens once per event however often the event is read.
consumer_receipts = Table(
    "consumer_receipts",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("event_id", String(ID), ForeignKey("events.id"), primary_key=True),
    Column("handled_at", UtcDateTime, nullable=False),
)

#: Events a consumer's handler failed on: tried again at `retry_at`; given up on (and kept
#: for a person to look at) when `retry_at` is NULL. A success deletes the row.
consumer_failures = Table(
    "consumer_failures",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("event_id", String(ID), ForeignKey("events.id"), primary_key=True),
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=False),
    Column("first_failed_at", UtcDateTime, nullable=False),
    Column("last_failed_at", UtcDateTime, nullable=False),
    Column("retry_at", UtcDateTime),
    Index("ix_consumer_failures_due", "consumer", "retry_at"),
)

# The admin UI: its users, their sessions, failed sign-ins (for rate limiting), the audit log.

admin_users = Table(
    "admin_users",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    #: An argon2 hash in its PHC string form (algorithm, parameters, salt and hash).
    Column("password_hash", String(255), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

#: Server-side sessions, keyed by the SHA-256 of the token in the cookie (never the token).
admin_sessions = Table(
    "admin_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(ID), ForeignKey("admin_users.id"), nullable=False, index=True),
    Column("client", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
)

#: One row per failed sign-in, counted per name and per client address within a window.
admin_login_failures = Table(
    "admin_login_failures",
    metadata,
    Column("seq", SequenceKey, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("client", String(64), nullable=False),
    Column("failed_at", UtcDateTime, nullable=False, index=True),
    #: For an attempt made under the per-name brake: the `seq` of the name's failure it came
    #: after. Unique per name, so only one attempt takes each turn (`services/admin/logins.py`).
    Column("claims_after", SequenceKey),
    Index("ix_admin_login_failures_name", "name", "failed_at"),
    Index("ix_admin_login_failures_client", "client", "failed_at"),
    Index("uq_admin_login_failures_claim", "name", "claims_after", unique=True),
)

#: Who did what in the admin UI (and the CLI's user management), newest last by `seq`.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", SequenceKey, primary_key=True, autoincrement=True),
    Column("id", String(ID), nullable=False, unique=True),
    Column("at", UtcDateTime, nullable=False),
    #: The admin user; None for the CLI, the system, or a sign-in with an unknown name.
    Column("actor_id", String(ID)),
    Column("actor_name", String(64), nullable=False),
    Column("client", String(64)),
    Column("action", String(64), nullable=False),
    #: What the action was about: a payment, refund, user, key, provider account … id.
    Column("object_id", String(ID), index=True),
    Column("shop_id", String(ID)),
    Column("outcome", Text),
    Column("details", Document, nullable=False),
)

#: Secrets the hub makes for itself on first use (the key terminal tokens are signed with),
#: kept in the database, encrypted, so every hub process shares them; and `key_check`, which
#: names the key stored secrets are encrypted with (`kassa.services.encryption`).
hub_secrets = Table(
    "hub_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

#: Counters a change bumps in its own transaction, for other processes to notice it by polling
#: one row (SQLite has no LISTEN/NOTIFY). `terminal_rights`: see
#: `kassa.services.devices.rights`. `configuration`: bumped by triggers on `shops`, `api_keys`
#: and `provider_accounts` (migration 0014), see `kassa.services.configuration`.
change_counters = Table(
    "change_counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Connected devices of every kind (`kassa.domain.devices.DeviceKind`; the table kept the name
# it had when kiosk terminals were the only kind) and the operations relayed to their agents
# (`kassa.services.devices`).

terminals = Table(
    "terminals",
    metadata,
    Column("shop_id", String(ID), ForeignKey("shops.id"), primary_key=True),
    #: Unique within the shop, whatever the device's kind.
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False, server_default=text("'terminal'")),
    Column("name", String(128), nullable=False),
    Column("location", String(255)),
    Column("enabled", Boolean, nullable=False),
    #: Tokens carry the version they were issued at; revoking bumps it.
    Column("token_version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    #: Set while an agent is connected to a hub process, which refreshes `last_seen_at`.
    Column("connected_at", UtcDateTime),
    Column("last_seen_at", UtcDateTime),
    Column("agent_kind", String(16)),
    Column("agent_version", String(64)),
    Column("health", Document, nullable=False),
    Column("stats", Document, nullable=False),
)

terminal_operations = Table(
    "terminal_operations",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("shop_id", String(ID), nullable=False),
    #: The device's id (of whatever kind).
    Column("terminal_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("method", String(8), nullable=False),
    Column("body", Document, nullable=False),
    Column("payment_id", String(ID), ForeignKey("payments.id"), index=True),
    Column("state", String(16), nullable=False),
    Column("deadline", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    Column("sent_via", String(16)),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("finished_at", UtcDateTime),
    Column("result", Document),
    Column("error_code", String(64)),
    Column("error_message", Text),
    ForeignKeyConstraint(["shop_id", "terminal_id"], ["terminals.shop_id", "terminals.id"]),
    Index("ix_terminal_operations_terminal", "shop_id", "terminal_id", "state"),
    # The hub's sweeps look for queued and unanswered operations across all terminals
    # every few seconds: a short range of this index, however many operations are done.
    Index("ix_terminal_operations_state", "state", "updated_at"),
)
