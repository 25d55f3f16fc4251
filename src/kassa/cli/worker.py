"""`kassa worker`: the background loop in a process of its own, to scale the background work
out apart from `kassa serve` (any number of workers may share one PostgreSQL database)."""

from __future__ import annotations

import asyncio
import logging
import signal

from sqlalchemy import make_url

from kassa.cli.logs import configure_logging
from kassa.cli.output import fail, prepare
from kassa.config import Settings
from kassa.services.context import Context
from kassa.services.events import consumers
from kassa.services.operations.background import JOBS, BackgroundLoop

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


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
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: signal.Signals) -> None:
        log.info("%s: stopping after the job in hand (send it again to stop now)", signum.name)
        stop.set()
        for each in STOP_SIGNALS:
            loop.remove_signal_handler(each)  # so the next one has its usual effect

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    names = ", ".join(consumer.name for consumer in consumers.REGISTRY) or "none"
    database = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    log.info("worker started on %s: %d jobs; event consumers: %s", database, len(JOBS), names)
    ctx = Context.open(settings)
    try:
        await BackgroundLoop(ctx).run(stop)
    finally:
        await ctx.close()
