"""the bot's internal balance: a ledger of entries per buyer, top-up purchases (a purchase
of kind `topup` has no plan), and the bot setting that turns the balance on

Revision ID: 0022_bot_balance
Revises: 0025_bot_admin
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0022_bot_balance"
down_revision: str | None = "0025_bot_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "bot_settings",
        sa.Column("balance", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    with op.batch_alter_table("bot_purchases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="plan", nullable=False)
        )
        batch_op.alter_column("plan_id", existing_type=sa.String(length=40), nullable=True)
    op.create_table(
        "bot_balance_entries",
        sa.Column("id", sa.String(length=160), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("buyer_id", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("purchase_id", sa.String(length=40), nullable=True),
        sa.Column("plan_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["buyer_id"],
            ["bot_buyers.id"],
            name=op.f("fk_bot_balance_entries_buyer_id_bot_buyers"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["bot_plans.id"], name=op.f("fk_bot_balance_entries_plan_id_bot_plans")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_id"],
            ["bot_purchases.id"],
            name=op.f("fk_bot_balance_entries_purchase_id_bot_purchases"),
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_bot_balance_entries_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_balance_entries")),
    )
    with op.batch_alter_table("bot_balance_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bot_balance_entries_buyer_id"), ["buyer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("bot_balance_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bot_balance_entries_buyer_id"))
    op.drop_table("bot_balance_entries")
    op.execute("DELETE FROM bot_purchases WHERE kind = 'topup'")
    with op.batch_alter_table("bot_purchases", schema=None) as batch_op:
        batch_op.alter_column("plan_id", existing_type=sa.String(length=40), nullable=False)
        batch_op.drop_column("kind")
    op.drop_column("bot_settings", "balance")
