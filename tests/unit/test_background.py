"""The background loop runs each job on its own interval and survives a failing job."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import pytest

from kassa.services.context import Context
from kassa.services.operations.background import BackgroundLoop
from kassa.services.operations.jobs import Job, Service


def test_jobs_run_when_due_and_failures_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[str] = []

    async def fine(_: Context) -> int:
        runs.append("fine")
        return 0

    async def broken(_: Context) -> int:
        runs.append("broken")
        raise RuntimeError("down")

    jobs = (Job("broken", 0.0, broken), Job("fine", 3600.0, fine))
    loop = BackgroundLoop(cast(Context, None), jobs)

    async def twice() -> None:
        await loop.run_due()
        await loop.run_due()

    with caplog.at_level(logging.ERROR):
        asyncio.run(twice())
    assert runs == ["broken", "fine", "broken"]  # "fine" is not due again for an hour
    assert "background job 'broken' failed" in caplog.text


def test_run_stops_when_asked() -> None:
    async def scenario() -> None:
        stop = asyncio.Event()
        loop = BackgroundLoop(cast(Context, None), (), tick=0.01)
        task = asyncio.create_task(loop.run(stop))
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, timeout=1)

    asyncio.run(scenario())


def test_a_stop_lets_the_job_in_hand_finish_and_starts_no_other() -> None:
    runs: list[str] = []
    stop = asyncio.Event()

    async def in_hand(_: Context) -> int:
        runs.append("started")
        stop.set()  # the signal comes while it works
        await asyncio.sleep(0.01)
        runs.append("finished")
        return 1

    async def next_one(_: Context) -> int:
        runs.append("next")
        return 0

    jobs = (Job("in hand", 0.0, in_hand), Job("next", 0.0, next_one))
    loop = BackgroundLoop(cast(Context, None), jobs, tick=3600)
    asyncio.run(asyncio.wait_for(loop.run(stop), timeout=1))
    assert runs == ["started", "finished"]


def test_services_run_beside_the_jobs_and_finish_their_work_on_stop() -> None:
    """A service is a task of its own: it runs while the jobs wait for their tick, and the
    loop returns only once it has finished the work in hand."""
    runs: list[str] = []
    stop = asyncio.Event()
    job_ran = asyncio.Event()

    async def deliver(_: Context, stopping: asyncio.Event) -> None:
        runs.append("service started")
        await job_ran.wait()  # the jobs run while the service works
        stop.set()
        await stopping.wait()
        await asyncio.sleep(0.01)  # the work in hand
        runs.append("service finished")

    async def job(_: Context) -> int:
        runs.append("job")
        job_ran.set()
        return 0

    loop = BackgroundLoop(cast(Context, None), (Service("s", deliver), Job("j", 0.0, job)))
    asyncio.run(asyncio.wait_for(loop.run(stop), timeout=1))
    assert sorted(runs[:2]) == ["job", "service started"]
    assert runs[2:] == ["service finished"]


def test_a_failing_service_is_logged_and_started_again(caplog: pytest.LogCaptureFixture) -> None:
    starts: list[int] = []
    stop = asyncio.Event()

    async def flaky(_: Context, stopping: asyncio.Event) -> None:
        starts.append(1)
        if len(starts) < 2:
            raise RuntimeError("down")
        stop.set()

    async def scenario() -> None:
        loop = BackgroundLoop(cast(Context, None), (Service("flaky", flaky),), tick=0.01)
        await asyncio.wait_for(loop.run(stop), timeout=1)

    with caplog.at_level(logging.ERROR):
        asyncio.run(scenario())
    assert len(starts) == 2
    assert "background service 'flaky' failed" in caplog.text
