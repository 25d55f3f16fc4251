"""Rejected notifications: what is kept of one, and their deletion when they expire.

Anyone can post to `/hooks`, so a rejected notification keeps only enough to see what it
was (`kept`), its sender may store only so many (the web layer's limit per sender), and it is
deleted after `KASSA_REJECTED_NOTIFICATION_RETENTION_DAYS` (`prune_rejected`): nobody can
fill the disk through `/hooks`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kassa.providers import Verdict
from kassa.services.context import Context
from kassa.store.tables import notifications

#: What a rejected notification keeps of its body and query: enough to see what it was.
REJECTED_BODY_BYTES = 4096
#: What it keeps of its headers: at most this many, each value cut to `REJECTED_HEADER_CHARS`
#: (the body limit does not bound headers).
REJECTED_HEADERS = 64
REJECTED_HEADER_CHARS = 1024
#: Rejected notifications deleted per transaction when they expire (small, so the SQLite
#: writer, which runs on the event loop, is never held long).
PRUNE_BATCH = 500


def kept(row: dict[str, Any]) -> dict[str, Any]:
    """A rejected notification's row: its headers, the start of its body and query, and the
    body's whole length, not the whole request."""
    headers = list(row["headers"].items())[:REJECTED_HEADERS]
    return {
        **row,
        "headers": {name[:256]: value[:REJECTED_HEADER_CHARS] for name, value in headers},
        "body": row["body"][:REJECTED_BODY_BYTES],
        "query": row["query"][:REJECTED_BODY_BYTES],
    }


async def prune_rejected(ctx: Context) -> int:
    """Delete rejected notifications older than `KASSA_REJECTED_NOTIFICATION_RETENTION_DAYS`,
    a batch per transaction; returns how many. Found through the partial index
    `ix_notifications_rejected`. Verified notifications are kept: they are the record of
    what changed payments."""
    cutoff = ctx.clock() - timedelta(days=ctx.settings.rejected_notification_retention_days)
    return await ctx.db.delete_in_batches(
        notifications,
        notifications.c.verdict == Verdict.REJECTED.value,
        notifications.c.received_at < cutoff,
        batch=PRUNE_BATCH,
    )
