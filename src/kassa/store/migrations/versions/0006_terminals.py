"""terminals, the operations relayed to them, and the hub's own secrets

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, kassa.store.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "hub_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_hub_secrets")),
    )

    op.create_table(
        "terminals",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("location", sa.String(length=255), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        _time("connected_at", nullable=True),
        _time("last_seen_at", nullable=True),
        sa.Column("agent_kind", sa.String(length=16), nullable=True),
        sa.Column("agent_version", sa.String(length=64), nullable=True),
        sa.Column("health", sa.JSON(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_terminals_shop_id_shops")),
        sa.PrimaryKeyConstraint("shop_id", "id", name=op.f("pk_terminals")),
    )

    op.create_table(
        "terminal_operations",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("terminal_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        _time("deadline"),
        _time("created_at"),
        _time("updated_at"),
        _time("sent_at", nullable=True),
        sa.Column("sent_via", sa.String(length=16), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _time("finished_at", nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_terminal_operations_payment_id_payments"),
        ),
        sa.ForeignKeyConstraint(
            ["shop_id", "terminal_id"],
            ["terminals.shop_id", "terminals.id"],
            name=op.f("fk_terminal_operations_shop_id_terminals"),
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_terminal_operations")),
    )
    op.create_index(
        op.f("ix_terminal_operations_payment_id"),
        "terminal_operations",
        ["payment_id"],
        unique=False,
    )
    op.create_index(
        "ix_terminal_operations_terminal",
        "terminal_operations",
        ["shop_id", "terminal_id", "state"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_terminal_operations_terminal", table_name="terminal_operations")
    op.drop_index(op.f("ix_terminal_operations_payment_id"), table_name="terminal_operations")
    op.drop_table("terminal_operations")
    op.drop_table("terminals")
    op.drop_table("hub_secrets")
