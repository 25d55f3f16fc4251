"""`kassa worker`: the background loop in a process of its own, to scale the background work
out apart from `kassa serve` (any number of workers may share one PostgreSQL database)."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import make_url

from kassa.cli.logs import configure_logging
from kassa.cli.output import fail, prepare
from kassa.cli.signals import stop_on_signals
from kassa.config import Settings
from kassa.services.context import Context
from kassa.services.events import consumers
from kassa.services.operations.background import JOBS, BackgroundLoop

log = logging.getLogger(__name__)


def worker() -> None:
    """Run the background jobs until SIGTERM or Ctrl-C, which let the job in hand finish.

    Applies migrations, then runs what `kassa serve` runs in-process: webhooks, event
    consumers, reconciliation, expiry… Run as many workers as you like; with
    KASSA_BACKGROUND=false, `kassa serve` leaves all the work to them.
    """
    settings = Settings()
    configure_logging(settings)
    try:
        consumers.load(settings.consumers)
    except ValueError as exc:
        raise fail(f"KASSA_CONSUMERS: {exc}") from None
    prepare(settings)
    asyncio.run(_work(settings))
    log.info("worker stopped")


async def _work(settings: Settings) -> None:
    stop = stop_on_signals("the job in hand")
    names = ", ".join(consumer.name for consumer in consumers.REGISTRY) or "none"
    database = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    log.info("worker started on %s: %d jobs; event consumers: %s", database, len(JOBS), names)
    ctx = Context.open(settings)
    try:
        await BackgroundLoop(ctx).run(stop)
    finally:
        await ctx.close()
