"""The background loop: periodic jobs, each on its own interval, and services that run as
tasks of their own. `kassa serve` runs it in-process (unless `KASSA_BACKGROUND=false`), in one
of its processes sharing the database at a time (`ElectedLoop`), and `kassa worker` runs it in
processes of its own; any number may run at once, since every job claims its work.

It sends merchant webhooks (a service, woken as soon as events commit), runs the event
consumers, re-applies notifications stored as pending, re-checks open payments with their
provider (reconciliation), settles payments past their expiry, resumes refunds whose provider
never answered, sends customers their receipt e-mails, provisions bot subscriptions on
their VPN panel, credits clubs' online top-ups (a consumer), and forgets Idempotency-Keys,
rejected notifications and club PCs' events past their lifetime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from kassa.services import idempotency
from kassa.services.bot import activation as bot_activation
from kassa.services.bot import alerts as bot_alerts
from kassa.services.bot import reminders as bot_reminders
from kassa.services.bot import webhooks as bot_webhooks
from kassa.services.club import pc_events as club_pc_events

# Registers its event consumer (`club-topups`), which the consumers' job runs.
from kassa.services.club import topups as club_topups  # noqa: F401
from kassa.services.context import Context
from kassa.services.emails import receipts as receipt_emails
from kassa.services.events import consumers
from kassa.services.notifications import inbound as notifications
from kassa.services.notifications import rejected as rejected_notifications
from kassa.services.operations.jobs import Job, Service
from kassa.services.payments import expiry, reconciliation, refunds
from kassa.services.providers import provider_jobs
from kassa.services.webhooks import sending as webhook_sending
from kassa.store.leader import Leadership

log = logging.getLogger(__name__)

#: The name of the advisory lock whose holder runs `kassa serve`'s background loop.
LEADER_LOCK = "kassa serve's background loop"


JOBS: tuple[Job | Service, ...] = (
    Service("deliver webhooks", webhook_sending.deliver_continuously),
    Job("run event consumers", 1.0, consumers.dispatch),
    # Its consumer (registered on import) writes the e-mails this job sends.
    Job("send receipt e-mails", 5.0, receipt_emails.send_due),
    # Its consumer (registered on import) queues the provisioning this job does.
    # Every second, as the consumers: a buyer who has paid waits for their link; a round
    # with nothing due is one read.
    Job("provision bot subscriptions", 1.0, bot_activation.provision_due),
    # The bot process sends the messages these two write (`bot_messages`).
    Job("remind bot subscribers", 60.0, bot_reminders.remind_due),
    Job("alert bot owners", 60.0, bot_alerts.alert_owners),
    Job("reprocess pending notifications", 10.0, notifications.reprocess_pending),
    # Every 5 s, so that a provider that is polled (Kaspi QR) is asked about as often as it
    # wants, down to that; most rounds find nothing due and write nothing.
    Job("reconcile open payments", 5.0, reconciliation.reconcile_due),
    Job("expire payments", 30.0, expiry.expire_due),
    Job("resume pending refunds", 60.0, refunds.resume_pending),
    Job("prune idempotency keys", 3600.0, idempotency.prune),
    Job("prune rejected notifications", 3600.0, rejected_notifications.prune_rejected),
    Job("prune bot webhook updates", 3600.0, bot_webhooks.prune),
    Job("prune club PC events", 3600.0, club_pc_events.prune),
    *provider_jobs(),
)


class BackgroundLoop:
    """Runs `jobs` until `stop` is set; a failing job is logged and tried again later.

    Jobs run one after another; each service runs as a task of its own beside them (and is
    started again, a tick later, if it fails). Once `stop` is set no other job starts: the
    one in hand and the services' work in hand finish (their claims and transactions end
    cleanly) and `run` returns.
    """

    def __init__(
        self, ctx: Context, jobs: tuple[Job | Service, ...] = JOBS, *, tick: float = 1.0
    ) -> None:
        self.ctx = ctx
        self.jobs = tuple(job for job in jobs if isinstance(job, Job))
        self.services = tuple(job for job in jobs if isinstance(job, Service))
        self.tick = tick
        self._due = dict.fromkeys((job.name for job in self.jobs), 0.0)

    async def run_due(self, stop: asyncio.Event | None = None) -> None:
        """Run every job whose time has come, starting none once `stop` is set."""
        for job in self.jobs:
            if stop is not None and stop.is_set():
                return
            now = time.monotonic()
            if now < self._due[job.name]:
                continue
            self._due[job.name] = now + job.every
            try:
                done = await job.run(self.ctx)
            except Exception:
                log.exception("background job %r failed", job.name)
            else:
                if done:
                    log.info("background job %r handled %d", job.name, done)

    async def run(self, stop: asyncio.Event) -> None:
        log.info(
            "background loop started: %d jobs, %d services", len(self.jobs), len(self.services)
        )
        services = [asyncio.create_task(self._keep(service, stop)) for service in self.services]
        try:
            while not stop.is_set():
                await self.run_due(stop)
                await self._pause(stop)
        finally:
            if not stop.is_set():  # cancelled: so are the services
                for task in services:
                    task.cancel()
            await asyncio.gather(*services, return_exceptions=True)

    async def _keep(self, service: Service, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await service.run(self.ctx, stop)
            except Exception:
                log.exception("background service %r failed; starting it again", service.name)
                await self._pause(stop)

    async def _pause(self, stop: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=self.tick)


class ElectedLoop:
    """`kassa serve`'s background loop, run by one of the serving processes that share the
    database: on PostgreSQL the one that holds the `LEADER_LOCK` advisory lock
    (`kassa.store.leader`), all of them (`kassa serve --workers N`, on one machine or many)
    waiting for it, so that when the leader dies another takes over within moments; on
    SQLite, which has one serving process, that process.

    The election only saves work: were two loops to run at once for a moment, every job
    still claims what it does.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._leadership = None if ctx.db.is_sqlite else Leadership(ctx.db, LEADER_LOCK)
        self._running = False

    @property
    def running(self) -> bool:
        """Whether the loop runs in this process now."""
        return self._leadership.leading if self._leadership is not None else self._running

    async def run(self, stop: asyncio.Event) -> None:
        """Run the loop here whenever this process is elected, until `stop` is set; each
        term starts a fresh loop, whose jobs are then all due."""
        if self._leadership is not None:
            await self._leadership.run(lambda resign: BackgroundLoop(self.ctx).run(resign), stop)
            return
        self._running = True
        try:
            await BackgroundLoop(self.ctx).run(stop)
        finally:
            self._running = False
