"""kaspi_transactions: Kaspi's check/pay `pay` requests, one per Kaspi transaction of an
account, with the `prv_txn_id` Kassa answered (the row's id)

Revision ID: 0015_kaspi
Revises: 0014_configuration_version
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0015_kaspi"
down_revision: str | None = "0014_configuration_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kaspi_transactions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("txn_id", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=255), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("txn_date", sa.String(length=14), nullable=True),
        sa.Column("result", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(length=255), nullable=False),
        sa.Column("notification_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["provider_accounts.id"],
            name=op.f("fk_kaspi_transactions_account_id_provider_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_kaspi_transactions_payment_id_payments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kaspi_transactions")),
        sa.UniqueConstraint(
            "account_id", "txn_id", name=op.f("uq_kaspi_transactions_account_id_txn_id")
        ),
    )
    op.create_index(op.f("ix_kaspi_transactions_payment_id"), "kaspi_transactions", ["payment_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_kaspi_transactions_payment_id"), table_name="kaspi_transactions")
    op.drop_table("kaspi_transactions")
