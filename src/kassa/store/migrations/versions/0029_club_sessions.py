"""the computer club's sessions: sessions with their leases, their charges, and what each PC
last reported over its link (issue 19, part "sessions")

Revision ID: 0029_club_sessions
Revises: 0023_bot_broadcasts
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0029_club_sessions"
down_revision: str | None = "0023_bot_broadcasts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("state != 'ended'")


def _time(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, kassa.store.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "club_sessions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("club_id", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("open_ended", sa.Boolean(), nullable=False),
        _time("started_at"),
        _time("paid_until"),
        sa.Column("charged_seconds", sa.BigInteger(), nullable=False),
        sa.Column("paused_left", sa.BigInteger(), nullable=True),
        _time("lease_expires_at"),
        sa.Column("lease_seq", sa.BigInteger(), nullable=False),
        _time("ended_at", nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        _time("agent_ended_at", nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        _time("created_at"),
        sa.ForeignKeyConstraint(
            ["club_id"], ["clubs.id"], name=op.f("fk_club_sessions_club_id_clubs")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["club_customers.id"],
            name=op.f("fk_club_sessions_customer_id_club_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_club_sessions")),
    )
    op.create_index(
        "uq_club_sessions_live_pc",
        "club_sessions",
        ["shop_id", "device_id"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )
    op.create_index(
        "uq_club_sessions_live_customer",
        "club_sessions",
        ["customer_id"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )
    op.create_index("ix_club_sessions_club", "club_sessions", ["club_id", "state"])
    op.create_index("ix_club_sessions_due", "club_sessions", ["state", "paid_until"])
    op.create_table(
        "club_session_charges",
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("offset", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.String(length=40), nullable=False),
        sa.Column("uses", sa.JSON(), nullable=False),
        _time("created_at"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["club_sessions.id"],
            name=op.f("fk_club_session_charges_session_id_club_sessions"),
        ),
        sa.PrimaryKeyConstraint("session_id", "offset", name=op.f("pk_club_session_charges")),
    )
    op.create_table(
        "club_pc_states",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("club_id", sa.String(length=40), nullable=False),
        _time("heartbeat_at", nullable=True),
        sa.Column("heartbeat_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("reported", sa.JSON(), nullable=False),
        sa.Column("liveness", sa.String(length=16), nullable=False),
        _time("changed_at"),
        sa.ForeignKeyConstraint(
            ["club_id"], ["clubs.id"], name=op.f("fk_club_pc_states_club_id_clubs")
        ),
        sa.PrimaryKeyConstraint("shop_id", "device_id", name=op.f("pk_club_pc_states")),
    )


def downgrade() -> None:
    op.drop_table("club_pc_states")
    op.drop_table("club_session_charges")
    op.drop_index("ix_club_sessions_due", table_name="club_sessions")
    op.drop_index("ix_club_sessions_club", table_name="club_sessions")
    op.drop_index("uq_club_sessions_live_customer", table_name="club_sessions")
    op.drop_index("uq_club_sessions_live_pc", table_name="club_sessions")
    op.drop_table("club_sessions")
