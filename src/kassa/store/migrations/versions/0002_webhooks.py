"""merchant webhooks: endpoints, deliveries, attempts, and the outbox cursor

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUTOMATIC = sa.text("NOT manual")
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("test", sa.Boolean(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("previous_secret", sa.String(length=128), nullable=True),
        sa.Column(
            "previous_secret_expires_at",
            kassa.store.types.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("failing_since", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_webhook_endpoints_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index(
        "ix_webhook_endpoints_shop_list",
        "webhook_endpoints",
        ["shop_id", "test", "id"],
        unique=False,
    )

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("endpoint_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("locked_until", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_webhook_deliveries_event_id_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "ix_webhook_deliveries_endpoint_list",
        "webhook_deliveries",
        ["endpoint_id", "id"],
        unique=False,
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        unique=False,
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )
    op.create_index(
        "uq_webhook_deliveries_fan_out",
        "webhook_deliveries",
        ["event_id", "endpoint_id"],
        unique=True,
        sqlite_where=AUTOMATIC,
        postgresql_where=AUTOMATIC,
    )

    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("delivery_id", sa.String(length=40), nullable=False),
        sa.Column("attempted_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index(
        op.f("ix_webhook_attempts_delivery_id"), "webhook_attempts", ["delivery_id"], unique=False
    )

    cursors = op.create_table(
        "outbox_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("waiting_seq", sa.BigInteger(), nullable=True),
        sa.Column("waiting_since", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_outbox_cursors")),
    )
    # Webhooks start at the end of the outbox: endpoints made from now on never get events
    # older than themselves anyway, and an upgraded database may hold many.
    op.execute(
        sa.insert(cursors).from_select(
            ["name", "seq"],
            sa.select(
                sa.literal("webhooks"), sa.func.coalesce(sa.func.max(sa.column("seq")), 0)
            ).select_from(sa.table("events", sa.column("seq"))),
        )
    )


def downgrade() -> None:
    op.drop_table("outbox_cursors")
    op.drop_index(op.f("ix_webhook_attempts_delivery_id"), table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index(
        "uq_webhook_deliveries_fan_out",
        table_name="webhook_deliveries",
        sqlite_where=AUTOMATIC,
        postgresql_where=AUTOMATIC,
    )
    op.drop_index(
        "ix_webhook_deliveries_due",
        table_name="webhook_deliveries",
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )
    op.drop_index("ix_webhook_deliveries_endpoint_list", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_webhook_endpoints_shop_list", table_name="webhook_endpoints")
    op.drop_table("webhook_endpoints")
