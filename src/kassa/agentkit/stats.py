"""The agent's counters: for heartbeats, the health endpoint and the periodic stats line."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    messages_received: int = 0
    messages_sent: int = 0
    #: Operations that produced a result (a local call, or `expired` / `route_not_found`).
    requests: int = 0
    successes: int = 0
    failures: int = 0
    reconnects: int = 0
    #: Frames the hub could not have meant (not JSON, wrong shape) and unexpected failures.
    errors: int = 0
    started: float = field(default_factory=time.monotonic)

    def uptime(self) -> int:
        return int(time.monotonic() - self.started)

    def counted(self, result: dict[str, Any]) -> None:
        self.requests += 1
        if result.get("ok"):
            self.successes += 1
        else:
            self.failures += 1

    def heartbeat(self) -> dict[str, int]:
        """The `stats` of `hello` and `heartbeat` (docs/terminal-protocol.md)."""
        return {
            "requests": self.requests,
            "successes": self.successes,
            "failures": self.failures,
            "reconnects": self.reconnects,
            "uptime_seconds": self.uptime(),
        }

    def counters(self) -> dict[str, int]:
        """Every counter, for the health endpoint."""
        return {
            "messages_received": self.messages_received,
            "messages_sent": self.messages_sent,
            "requests": self.requests,
            "successes": self.successes,
            "failures": self.failures,
            "reconnects": self.reconnects,
            "errors": self.errors,
        }

    def line(self) -> str:
        return " ".join(
            f"{k}={v}" for k, v in {**self.counters(), "uptime_seconds": self.uptime()}.items()
        )
