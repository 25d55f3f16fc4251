"""Prometheus metrics, in a registry of the app's own (so several apps can live in a process):
the app's own counters, and the vitals its alerts watch (`kassa.services.operations.vitals`),
read from the database at scrape time and kept for `VITALS_TTL` seconds."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kassa.services.context import Context
from kassa.services.operations import vitals

log = logging.getLogger(__name__)

#: Seconds a reading of the vitals serves scrapes (several Prometheus servers, or a person).
VITALS_TTL = 10.0


class Metrics:
    """Kassa's counters and histograms and its vitals, rendered at `/metrics`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kassa_http_requests",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kassa_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.notifications = Counter(
            "kassa_notifications",
            "Provider notifications received, by provider and verdict.",
            ["provider", "verdict"],
            registry=self.registry,
        )
        #: The labelled series of a request, found once per method, route and status: a
        #: labels() call costs a lock and a lookup on every request.
        self._request_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        #: Likewise `kassa_notifications`' series, by provider and verdict (both from short
        #: fixed lists).
        self._notification_series: dict[tuple[str, str], Counter] = {}
        self.vitals = VitalsCollector()
        self.registry.register(self.vitals)
        self._vitals_lock = asyncio.Lock()
        self._vitals_until = 0.0

        self.notifications_limited = Counter(
            "kassa_notifications_rate_limited",
            "Provider notifications answered 429 and not stored: their sender had sent too many "
            "rejected ones (or requests to unknown providers) lately.",
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        series = self._request_series.get((method, route, status))
        if series is None:
            series = (self.requests.labels(method, route, str(status)), self.latency.labels(route))
            self._request_series[method, route, status] = series
        count, latency = series
        count.inc()
        latency.observe(seconds)

    def count_notification(self, provider: str, verdict: str) -> None:
        series = self._notification_series.get((provider, verdict))
        if series is None:
            series = self._notification_series[provider, verdict] = self.notifications.labels(
                provider, verdict
            )
        series.inc()

    async def refresh_vitals(self, ctx: Context) -> None:
        """Read the vitals again unless the last reading is younger than `VITALS_TTL`. If
        the database does not answer, `kassa_database_up` says so."""
        async with self._vitals_lock:
            if time.monotonic() < self._vitals_until:
                return
            try:
                self.vitals.reading = await vitals.read(ctx)
                self.vitals.database_up = True
            except Exception:
                log.warning("metrics: could not read the vitals from the database", exc_info=True)
                self.vitals.reading = None
                self.vitals.database_up = False
            self._vitals_until = time.monotonic() + VITALS_TTL

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _mode(test: bool) -> str:
    return "test" if test else "live"


def _age(reading: vitals.Vitals, since: datetime | None) -> float:
    """Seconds from `since` to the reading (0 for nothing)."""
    return max((reading.at - since).total_seconds(), 0.0) if since else 0.0


class VitalsCollector(Collector):
    """The last reading of the vitals as gauges (none until the first scrape reads them)."""

    def __init__(self) -> None:
        self.reading: vitals.Vitals | None = None
        self.database_up: bool | None = None

    def collect(self) -> Iterator[Metric]:
        if self.database_up is not None:
            yield GaugeMetricFamily(
                "kassa_database_up",
                "1 if the last reading of the database for these metrics succeeded.",
                value=1 if self.database_up else 0,
            )
        if self.reading is not None:
            yield from self._payments(self.reading)
            yield from self._webhooks(self.reading)
            yield from self._terminals(self.reading)
            yield from self._disk(self.reading.disk)

    @staticmethod
    def _payments(reading: vitals.Vitals) -> Iterator[Metric]:
        count = GaugeMetricFamily(
            "kassa_payments_open",
            "Payments still open (pending, requires_capture), by status and mode.",
            labels=["status", "mode"],
        )
        oldest = GaugeMetricFamily(
            "kassa_payments_open_oldest_seconds",
            "Age of the oldest open payment of each status and mode (0: none).",
            labels=["status", "mode"],
        )
        for found in reading.open_payments:
            labels = [found.status.value, _mode(found.test)]
            count.add_metric(labels, found.count)
            oldest.add_metric(labels, _age(reading, found.oldest))
        overdue = GaugeMetricFamily(
            "kassa_payments_overdue",
            "Pending payments past their expiry, which the background loop should have settled.",
            labels=["mode"],
        )
        overdue_for = GaugeMetricFamily(
            "kassa_payments_overdue_seconds",
            "How long the most overdue pending payment is past its expiry (0: none).",
            labels=["mode"],
        )
        for late in reading.overdue:
            overdue.add_metric([_mode(late.test)], late.count)
            overdue_for.add_metric([_mode(late.test)], _age(reading, late.earliest_expiry))
        yield from (count, oldest, overdue, overdue_for)

    @staticmethod
    def _webhooks(reading: vitals.Vitals) -> Iterator[Metric]:
        labels = ["endpoint", "shop", "mode"]
        failing = GaugeMetricFamily(
            "kassa_webhook_endpoint_failing_seconds",
            "How long every attempt at an enabled endpoint has failed (0: its last succeeded).",
            labels=labels,
        )
        undelivered = GaugeMetricFamily(
            "kassa_webhook_endpoint_undelivered",
            "Deliveries to an enabled endpoint still waiting to succeed.",
            labels=labels,
        )
        oldest = GaugeMetricFamily(
            "kassa_webhook_endpoint_undelivered_oldest_seconds",
            "Age of the oldest delivery still waiting for an endpoint (0: none).",
            labels=labels,
        )
        for endpoint in reading.endpoints:
            values = [endpoint.endpoint_id, endpoint.shop, _mode(endpoint.test)]
            failing.add_metric(values, _age(reading, endpoint.failing_since))
            undelivered.add_metric(values, endpoint.undelivered)
            oldest.add_metric(values, _age(reading, endpoint.oldest_undelivered))
        disabled = GaugeMetricFamily(
            "kassa_webhook_endpoints_disabled",
            "Webhook endpoints disabled (by Kassa after days of failures, or by hand).",
            labels=["mode"],
        )
        for test, count in sorted(reading.disabled_endpoints.items()):
            disabled.add_metric([_mode(test)], count)
        yield from (failing, undelivered, oldest, disabled)

    @staticmethod
    def _terminals(reading: vitals.Vitals) -> Iterator[Metric]:
        labels = ["shop", "terminal"]
        waiting = GaugeMetricFamily(
            "kassa_terminal_payments_waiting",
            "Payment operations waiting for a terminal that is offline.",
            labels=labels,
        )
        oldest = GaugeMetricFamily(
            "kassa_terminal_payments_waiting_oldest_seconds",
            "Age of the oldest payment operation waiting for an offline terminal.",
            labels=labels,
        )
        for terminal in reading.waiting_terminals:
            values = [terminal.shop, terminal.terminal_id]
            waiting.add_metric(values, terminal.payments)
            oldest.add_metric(values, _age(reading, terminal.oldest))
        yield from (waiting, oldest)

    @staticmethod
    def _disk(disk: vitals.Disk) -> Iterator[Metric]:
        for name, help_text, value in (
            (
                "kassa_data_dir_free_bytes",
                "Bytes free to unprivileged users on the data directory's file system.",
                disk.free_bytes,
            ),
            (
                "kassa_data_dir_size_bytes",
                "Size of the data directory's file system, in bytes.",
                disk.size_bytes,
            ),
            (
                "kassa_database_size_bytes",
                "Size of Kassa's database: the SQLite file and its log, or PostgreSQL's.",
                disk.database_bytes,
            ),
        ):
            if value is not None:
                yield GaugeMetricFamily(name, help_text, value=value)
