"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shops",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shops")),
        sa.UniqueConstraint("name", name=op.f("uq_shops_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("test", sa.Boolean(), nullable=False),
        sa.Column("prefix", sa.String(length=24), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_api_keys_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_keys_secret_hash")),
    )
    op.create_index(op.f("ix_api_keys_shop_id"), "api_keys", ["shop_id"], unique=False)

    op.create_table(
        "events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("test", sa.Boolean(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("refund_id", sa.String(length=40), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_events_shop_id_shops")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
        sa.UniqueConstraint("id", name=op.f("uq_events_id")),
    )
    op.create_index(op.f("ix_events_payment_id"), "events", ["payment_id"], unique=False)
    op.create_index("ix_events_shop_list", "events", ["shop_id", "test", "id"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("test", sa.Boolean(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("resource_id", sa.String(length=40), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("locked_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_idempotency_keys_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("shop_id", "test", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(
        op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"], unique=False
    )

    op.create_table(
        "provider_accounts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("test", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("credentials", sa.JSON(), nullable=False),
        sa.Column("api_url", sa.String(length=2048), nullable=True),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_provider_accounts_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_accounts")),
        sa.UniqueConstraint(
            "shop_id", "provider", "test", name=op.f("uq_provider_accounts_shop_id_provider_test")
        ),
    )
    op.create_table(
        "sandbox_payments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("capture", sa.Boolean(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("amount_captured", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("amount_refunded", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("return_url", sa.String(length=2048), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("expires_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_sandbox_payments_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_payments")),
        sa.UniqueConstraint(
            "shop_id", "order_id", name=op.f("uq_sandbox_payments_shop_id_order_id")
        ),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=True),
        sa.Column("shop_ref", sa.String(length=255), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("event_key", sa.String(length=255), nullable=True),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("processed_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["provider_accounts.id"],
            name=op.f("fk_notifications_account_id_provider_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_notifications_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        "ix_notifications_shop_received", "notifications", ["shop_id", "received_at"], unique=False
    )
    op.create_index(
        "ix_notifications_pending",
        "notifications",
        ["received_at"],
        unique=False,
        sqlite_where=sa.text("verdict = 'pending'"),
        postgresql_where=sa.text("verdict = 'pending'"),
    )
    op.create_index(
        "uq_notifications_accepted_event",
        "notifications",
        ["provider", "shop_id", "event_key"],
        unique=True,
        sqlite_where=sa.text("verdict = 'accepted'"),
        postgresql_where=sa.text("verdict = 'accepted'"),
    )

    op.create_table(
        "payments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("test", sa.Boolean(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_account_id", sa.String(length=40), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=True),
        sa.Column("provider_payment_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("capture", sa.Boolean(), nullable=False),
        sa.Column("amount_captured", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("amount_refunded", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "amount_refund_pending", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("customer", sa.String(length=255), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("confirmation", sa.JSON(), nullable=True),
        sa.Column("return_url", sa.String(length=2048), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["provider_account_id"],
            ["provider_accounts.id"],
            name=op.f("fk_payments_provider_account_id_provider_accounts"),
        ),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_payments_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index("ix_payments_customer", "payments", ["shop_id", "customer"], unique=False)
    op.create_index("ix_payments_shop_list", "payments", ["shop_id", "test", "id"], unique=False)
    op.create_index("ix_payments_status_expiry", "payments", ["status", "expires_at"], unique=False)
    op.create_index(
        "uq_payments_provider_payment",
        "payments",
        ["provider_account_id", "provider_payment_id"],
        unique=True,
    )

    op.create_table(
        "sandbox_refunds",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("sandbox_payment_id", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("idempotence_key", sa.String(length=255), nullable=False),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sandbox_payment_id"],
            ["sandbox_payments.id"],
            name=op.f("fk_sandbox_refunds_sandbox_payment_id_sandbox_payments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_refunds")),
        sa.UniqueConstraint(
            "sandbox_payment_id",
            "idempotence_key",
            name=op.f("uq_sandbox_refunds_sandbox_payment_id_idempotence_key"),
        ),
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("test", sa.Boolean(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("provider_refund_id", sa.String(length=255), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_refunds_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
    )
    op.create_index(op.f("ix_refunds_payment_id"), "refunds", ["payment_id"], unique=False)
    op.create_index("ix_refunds_shop_list", "refunds", ["shop_id", "test", "id"], unique=False)
    op.create_index(
        "uq_refunds_provider_refund", "refunds", ["payment_id", "provider_refund_id"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_refunds_provider_refund", table_name="refunds")
    op.drop_index("ix_refunds_shop_list", table_name="refunds")
    op.drop_index(op.f("ix_refunds_payment_id"), table_name="refunds")

    op.drop_table("refunds")
    op.drop_table("sandbox_refunds")
    op.drop_index("uq_payments_provider_payment", table_name="payments")
    op.drop_index("ix_payments_status_expiry", table_name="payments")
    op.drop_index("ix_payments_shop_list", table_name="payments")
    op.drop_index("ix_payments_customer", table_name="payments")

    op.drop_table("payments")
    op.drop_index(
        "uq_notifications_accepted_event",
        table_name="notifications",
        sqlite_where=sa.text("verdict = 'accepted'"),
        postgresql_where=sa.text("verdict = 'accepted'"),
    )
    op.drop_index(
        "ix_notifications_pending",
        table_name="notifications",
        sqlite_where=sa.text("verdict = 'pending'"),
        postgresql_where=sa.text("verdict = 'pending'"),
    )
    op.drop_index("ix_notifications_shop_received", table_name="notifications")

    op.drop_table("notifications")
    op.drop_table("sandbox_payments")
    op.drop_table("provider_accounts")
    op.drop_index(op.f("ix_idempotency_keys_created_at"), table_name="idempotency_keys")

    op.drop_table("idempotency_keys")
    op.drop_index("ix_events_shop_list", table_name="events")
    op.drop_index(op.f("ix_events_payment_id"), table_name="events")

    op.drop_table("events")
    op.drop_index(op.f("ix_api_keys_shop_id"), table_name="api_keys")

    op.drop_table("api_keys")
    op.drop_table("shops")
