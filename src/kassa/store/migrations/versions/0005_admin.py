"""admin UI: users, sessions, failed sign-ins, the audit log, and each shop's time zone

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQUENCE_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, kassa.store.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column(
        "shops",
        sa.Column("timezone", sa.String(length=64), nullable=False, server_default="Europe/Moscow"),
    )

    op.create_table(
        "admin_users",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_users")),
        sa.UniqueConstraint("name", name=op.f("uq_admin_users_name")),
    )

    op.create_table(
        "admin_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=True),
        _time("created_at"),
        _time("last_seen_at"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["admin_users.id"], name=op.f("fk_admin_sessions_user_id_admin_users")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_admin_sessions")),
    )
    op.create_index(op.f("ix_admin_sessions_user_id"), "admin_sessions", ["user_id"], unique=False)

    op.create_table(
        "admin_login_failures",
        sa.Column("seq", SEQUENCE_KEY, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        _time("failed_at"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_admin_login_failures")),
    )
    op.create_index(
        op.f("ix_admin_login_failures_failed_at"),
        "admin_login_failures",
        ["failed_at"],
        unique=False,
    )
    op.create_index(
        "ix_admin_login_failures_name", "admin_login_failures", ["name", "failed_at"], unique=False
    )
    op.create_index(
        "ix_admin_login_failures_client",
        "admin_login_failures",
        ["client", "failed_at"],
        unique=False,
    )

    op.create_table(
        "audit_log",
        sa.Column("seq", SEQUENCE_KEY, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        _time("at"),
        sa.Column("actor_id", sa.String(length=40), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=40), nullable=True),
        sa.Column("shop_id", sa.String(length=40), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("id", name=op.f("uq_audit_log_id")),
    )
    op.create_index(op.f("ix_audit_log_object_id"), "audit_log", ["object_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_object_id"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_admin_login_failures_client", table_name="admin_login_failures")
    op.drop_index("ix_admin_login_failures_name", table_name="admin_login_failures")
    op.drop_index(op.f("ix_admin_login_failures_failed_at"), table_name="admin_login_failures")
    op.drop_table("admin_login_failures")
    op.drop_index(op.f("ix_admin_sessions_user_id"), table_name="admin_sessions")
    op.drop_table("admin_sessions")
    op.drop_table("admin_users")
    op.drop_column("shops", "timezone")
