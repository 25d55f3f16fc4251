"""the bots' webhook mode (mode, the sealed webhook secret, the updates handled), the
owners' alerts that are on, and the subscriptions by their end for the reminders (issue 18)

Revision ID: 0027_bot_alerts
Revises: 0030_club_money
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0027_bot_alerts"
down_revision: str | None = "0030_club_money"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "bot_settings",
        sa.Column("mode", sa.String(16), nullable=False, server_default="polling"),
    )
    op.add_column("bot_settings", sa.Column("webhook_secret", sa.Text(), nullable=True))
    op.create_index("ix_bot_subscriptions_ends_at", "bot_subscriptions", ["ends_at"], unique=False)
    op.create_table(
        "bot_alerts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("condition", sa.String(length=128), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("started_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_bot_alerts_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_alerts")),
        sa.UniqueConstraint("shop_id", "condition", name=op.f("uq_bot_alerts_shop_id_condition")),
    )
    op.create_table(
        "bot_webhook_updates",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("claimed_until", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("received_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_bot_webhook_updates_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("shop_id", "update_id", name=op.f("pk_bot_webhook_updates")),
    )
    op.create_index(
        "ix_bot_webhook_updates_received", "bot_webhook_updates", ["received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_bot_webhook_updates_received", table_name="bot_webhook_updates")
    op.drop_table("bot_webhook_updates")
    op.drop_table("bot_alerts")
    op.drop_index("ix_bot_subscriptions_ends_at", table_name="bot_subscriptions")
    op.drop_column("bot_settings", "webhook_secret")
    op.drop_column("bot_settings", "mode")
