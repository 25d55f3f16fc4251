"""Prometheus metrics, in a registry of the app's own (so several apps can live in a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class Metrics:
    """Kassa's counters and histograms, rendered at `/metrics`."""

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

        self.notifications_limited = Counter(
            "kassa_notifications_rate_limited",
            "Provider notifications answered 429 and not stored: their sender had sent too many "
            "rejected ones (or requests to unknown providers) lately.",
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
