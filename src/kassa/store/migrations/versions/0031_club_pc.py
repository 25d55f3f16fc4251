"""the club PC agent: the clubs' PC settings (language, test mode, staff PIN), the PCs'
journals of local events, and wrong staff PIN attempts (issue 20)

Revision ID: 0031_club_pc
Revises: 0026_bot_buyer
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0031_club_pc"
down_revision: str | None = "0026_bot_buyer"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, kassa.store.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("clubs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), server_default="ru", nullable=False)
        )
        batch_op.add_column(
            sa.Column("test", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        batch_op.add_column(sa.Column("staff_pin_hash", sa.Text(), nullable=True))
    op.create_table(
        "club_pc_events",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("club_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("pc_seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        _time("at"),
        sa.Column("session_id", sa.String(length=40), nullable=True),
        sa.Column("app", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        _time("received_at"),
        sa.ForeignKeyConstraint(
            ["club_id"], ["clubs.id"], name=op.f("fk_club_pc_events_club_id_clubs")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_club_pc_events")),
        sa.UniqueConstraint(
            "shop_id",
            "device_id",
            "event_id",
            name=op.f("uq_club_pc_events_shop_id_device_id_event_id"),
        ),
    )
    op.create_index("ix_club_pc_events_pc", "club_pc_events", ["shop_id", "device_id", "pc_seq"])
    op.create_table(
        "club_pin_failures",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        _time("failed_at"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_club_pin_failures")),
    )
    op.create_index(
        "ix_club_pin_failures_pc", "club_pin_failures", ["shop_id", "device_id", "failed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_club_pin_failures_pc", table_name="club_pin_failures")
    op.drop_table("club_pin_failures")
    op.drop_index("ix_club_pc_events_pc", table_name="club_pc_events")
    op.drop_table("club_pc_events")
    with op.batch_alter_table("clubs", schema=None) as batch_op:
        batch_op.drop_column("staff_pin_hash")
        batch_op.drop_column("test")
        batch_op.drop_column("language")
