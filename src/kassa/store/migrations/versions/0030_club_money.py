"""the club's money: online top-ups credited once, and shifts with one open per club
(issue 19, part "money")

Revision ID: 0030_club_money
Revises: 0022_bot_balance
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0030_club_money"
down_revision: str | None = "0022_bot_balance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "club_shifts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("club_id", sa.String(length=40), nullable=False),
        sa.Column("opened_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("opening_cash", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("counted_cash", sa.BigInteger(), nullable=True),
        sa.Column("expected_cash", sa.BigInteger(), nullable=True),
        sa.Column("difference", sa.BigInteger(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["club_id"], ["clubs.id"], name=op.f("fk_club_shifts_club_id_clubs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_club_shifts")),
    )
    with op.batch_alter_table("club_shifts", schema=None) as batch_op:
        batch_op.create_index("ix_club_shifts_club", ["club_id", "opened_at"], unique=False)
        batch_op.create_index(
            "uq_club_shifts_open",
            ["club_id"],
            unique=True,
            sqlite_where=sa.text("closed_at IS NULL"),
            postgresql_where=sa.text("closed_at IS NULL"),
        )

    op.create_table(
        "club_topups",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("club_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("credited_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["club_id"], ["clubs.id"], name=op.f("fk_club_topups_club_id_clubs")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["club_customers.id"],
            name=op.f("fk_club_topups_customer_id_club_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_club_topups")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_club_topups_payment_id")),
    )
    with op.batch_alter_table("club_topups", schema=None) as batch_op:
        batch_op.create_index("ix_club_topups_club", ["club_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("club_topups", schema=None) as batch_op:
        batch_op.drop_index("ix_club_topups_club")

    op.drop_table("club_topups")
    with op.batch_alter_table("club_shifts", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_club_shifts_open",
            sqlite_where=sa.text("closed_at IS NULL"),
            postgresql_where=sa.text("closed_at IS NULL"),
        )
        batch_op.drop_index("ix_club_shifts_club")

    op.drop_table("club_shifts")
