"""What the background loop runs: periodic jobs and long-running services."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kassa.services.context import Context


@dataclass(frozen=True, slots=True)
class Job:
    """A periodic job: a name for the logs, how often it runs, what it runs."""

    name: str
    every: float
    run: Callable[[Context], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Service:
    """Work that runs as a task of its own beside the jobs, until the stop event it is given
    is set; it then finishes the work in hand and returns."""

    name: str
    run: Callable[[Context, asyncio.Event], Awaitable[None]]
