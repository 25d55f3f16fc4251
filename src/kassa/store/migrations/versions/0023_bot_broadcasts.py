"""the bot's broadcasts and their recipients (issue 18, the owner's commands)

Revision ID: 0023_bot_broadcasts
Revises: 0027_bot_alerts
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0023_bot_broadcasts"
down_revision: str | None = "0027_bot_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bot_broadcasts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("owner_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("progress_message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("started_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_bot_broadcasts_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_broadcasts")),
    )
    op.create_index("ix_bot_broadcasts_shop_state", "bot_broadcasts", ["shop_id", "state"])
    op.create_table(
        "bot_broadcast_recipients",
        sa.Column("broadcast_id", sa.String(length=40), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sent_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["bot_broadcasts.id"],
            name=op.f("fk_bot_broadcast_recipients_broadcast_id_bot_broadcasts"),
        ),
        sa.PrimaryKeyConstraint(
            "broadcast_id", "telegram_id", name=op.f("pk_bot_broadcast_recipients")
        ),
    )
    op.create_index(
        "ix_bot_broadcast_recipients_status",
        "bot_broadcast_recipients",
        ["broadcast_id", "status"],
    )


def downgrade() -> None:
    op.drop_index("ix_bot_broadcast_recipients_status", table_name="bot_broadcast_recipients")
    op.drop_table("bot_broadcast_recipients")
    op.drop_index("ix_bot_broadcasts_shop_state", table_name="bot_broadcasts")
    op.drop_table("bot_broadcasts")
