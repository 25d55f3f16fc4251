"""USDT-TRC20's own state: the amounts reserved per payment (unique per receiving address),
the watcher's checkpoint per account, and the transfers it has seen

Revision ID: 0016_tron_usdt
Revises: 0015_kaspi
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0016_tron_usdt"
down_revision: str | None = "0015_kaspi"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, kassa.store.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "tron_reservations",
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        _time("created_at"),
        _time("held_until"),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_tron_reservations")),
        sa.UniqueConstraint("address", "amount", name=op.f("uq_tron_reservations_address_amount")),
    )
    op.create_table(
        "tron_watches",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("checkpoint", sa.BigInteger(), nullable=False),
        _time("next_poll_at"),
        _time("polled_at", nullable=True),
        sa.Column("failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["provider_accounts.id"],
            name=op.f("fk_tron_watches_account_id_provider_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_tron_watches")),
    )
    op.create_table(
        "tron_transfers",
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("transaction_id", sa.String(length=80), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        _time("block_at"),
        _time("seen_at"),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("notification_id", sa.String(length=40), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["provider_accounts.id"],
            name=op.f("fk_tron_transfers_account_id_provider_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_tron_transfers_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("address", "transaction_id", name=op.f("pk_tron_transfers")),
    )
    op.create_index(
        op.f("ix_tron_transfers_payment_id"), "tron_transfers", ["payment_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_tron_transfers_payment_id"), table_name="tron_transfers")
    op.drop_table("tron_transfers")
    op.drop_table("tron_watches")
    op.drop_table("tron_reservations")
