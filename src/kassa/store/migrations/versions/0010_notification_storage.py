"""notifications: the body's length (a rejected one keeps only its start), an index of
rejected ones by age (they expire), and signature headers redacted in the rows stored before

Revision ID: 0010_notification_storage
Revises: 0009_webhook_attempt_state
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010_notification_storage"
down_revision: str | None = "0009_webhook_attempt_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The words of `kassa.services.notifications.inbound` as of this revision (a migration keeps
#: its own copy: it must do the same thing whenever it runs).
_SECRET_HEADER_WORDS = (
    "auth",
    "cookie",
    "token",
    "secret",
    "api-key",
    "apikey",
    "password",
    "passwd",
    "credential",
    "session",
    "signature",
    "hmac",
)
_BATCH = 1000

_notifications = sa.table(
    "notifications", sa.column("id", sa.String), sa.column("headers", sa.JSON)
)


def _redacted(headers: Any) -> Any:
    if not isinstance(headers, dict):
        return headers
    return {
        name: "[redacted]"
        if any(word in str(name).lower() for word in _SECRET_HEADER_WORDS)
        else value
        for name, value in headers.items()
    }


def _redact_stored_headers() -> None:
    """Rows stored before signatures were redacted get them redacted now, a batch at a time."""
    conn = op.get_bind()
    table = _notifications
    last = ""
    while True:
        rows = conn.execute(
            sa.select(table.c.id, table.c.headers)
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        for row in rows:
            redacted = _redacted(row.headers)
            if redacted != row.headers:
                conn.execute(sa.update(table).where(table.c.id == row.id).values(headers=redacted))
        last = rows[-1].id


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("body_length", sa.Integer(), nullable=True))
    op.create_index(
        "ix_notifications_rejected",
        "notifications",
        ["received_at"],
        sqlite_where=sa.text("verdict = 'rejected'"),
        postgresql_where=sa.text("verdict = 'rejected'"),
    )
    _redact_stored_headers()


def downgrade() -> None:
    """Redacted headers and the rejected bodies' cut-off ends cannot come back."""
    op.drop_index("ix_notifications_rejected", table_name="notifications")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("body_length")
