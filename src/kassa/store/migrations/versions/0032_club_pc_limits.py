"""the club PC's limited attempts: wrong staff PINs and wrong sign-ins in one table by kind
(club_pin_failures becomes club_pc_failures; the PIN failures in it, minutes old at most, are
not carried over), and an index to delete the PCs' events past their retention (issue 20)

Revision ID: 0032_club_pc_limits
Revises: 0031_club_pc
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0032_club_pc_limits"
down_revision: str | None = "0031_club_pc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, kassa.store.types.UtcDateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.drop_index("ix_club_pin_failures_pc", table_name="club_pin_failures")
    op.drop_table("club_pin_failures")
    op.create_table(
        "club_pc_failures",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("club_id", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=True),
        _time("failed_at"),
        sa.ForeignKeyConstraint(
            ["club_id"], ["clubs.id"], name=op.f("fk_club_pc_failures_club_id_clubs")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_club_pc_failures")),
    )
    op.create_index(
        "ix_club_pc_failures_pc", "club_pc_failures", ["club_id", "kind", "device_id", "failed_at"]
    )
    op.create_index(
        "ix_club_pc_failures_login", "club_pc_failures", ["club_id", "kind", "login", "failed_at"]
    )
    op.create_index("ix_club_pc_events_received_at", "club_pc_events", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_club_pc_events_received_at", table_name="club_pc_events")
    op.drop_index("ix_club_pc_failures_login", table_name="club_pc_failures")
    op.drop_index("ix_club_pc_failures_pc", table_name="club_pc_failures")
    op.drop_table("club_pc_failures")
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
