"""receipt e-mails: each shop's language and sender, and the e-mails due, sent or skipped

Only columns SQLite adds in place (no batch rebuild) are added to `shops`, so the
configuration triggers on it (0014) stay as they are.

Revision ID: 0018_receipt_emails
Revises: 0017_receipts
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0018_receipt_emails"
down_revision: str | None = "0017_receipts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "shops",
        sa.Column("language", sa.String(length=8), server_default="ru", nullable=False),
    )
    op.add_column("shops", sa.Column("email_from", sa.String(length=320), nullable=True))
    moment = kassa.store.types.UtcDateTime(timezone=True)
    op.create_table(
        "receipt_emails",
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("refund_id", sa.String(length=40), nullable=True),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", moment, nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("updated_at", moment, nullable=False),
        sa.Column("sent_at", moment, nullable=True),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_receipt_emails_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refunds.id"], name=op.f("fk_receipt_emails_refund_id_refunds")
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_receipt_emails_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_receipt_emails")),
    )
    op.create_index("ix_receipt_emails_due", "receipt_emails", ["next_attempt_at"])
    op.create_index(
        op.f("ix_receipt_emails_payment_id"), "receipt_emails", ["payment_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_receipt_emails_payment_id"), table_name="receipt_emails")
    op.drop_index("ix_receipt_emails_due", table_name="receipt_emails")
    op.drop_table("receipt_emails")
    # SQLite (3.35+) drops a column in place when nothing indexes or references it.
    op.drop_column("shops", "email_from")
    op.drop_column("shops", "language")
