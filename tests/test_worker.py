"""`kassa worker` as real processes, with the test consumer of `tests.consumer_plugin` loaded
through `KASSA_CONSUMERS`: a worker killed between its consumer's effect and the commit leaves
no trace, and the next one has the effect happen once; SIGTERM lets the job in hand finish;
two workers at once handle each event once."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kassa.cli import app
from tests import worker_process
from tests.consumer_db import effects, prepare, receipts, run_on, write_events
from tests.consumer_plugin import CALLS, CRASHED
from tests.worker_process import Worker, eventually

PLUGIN = "tests.consumer_plugin:consumer"


def worker(
    database_url: str, calls: Path, consumers: str = PLUGIN
) -> AbstractContextManager[Worker]:
    """A `kassa worker` with the test consumer, which notes its calls in `calls`."""
    return worker_process.worker(database_url, consumers, **{CALLS: str(calls)})


def calls_for(calls: Path, event_ids: Iterable[str]) -> Counter[str]:
    """How often the test consumer was called for each of `event_ids`."""
    wanted = set(event_ids)
    noted = calls.read_text().splitlines() if calls.exists() else []
    return Counter(event_id for event_id, _pid in map(str.split, noted) if event_id in wanted)


@pytest.fixture(scope="module")
def shop_id(own_database_url: str) -> str:
    """The worker runs every background job: on a database of its own it meets no other
    test's payments."""
    return run_on(own_database_url, prepare)


def test_a_worker_killed_before_its_consumer_commits_is_made_good_by_the_next(
    own_database_url: str, shop_id: str, tmp_path: Path
) -> None:
    url, calls = own_database_url, tmp_path / "calls"
    crash, after = run_on(url, lambda ctx: write_events(ctx, shop_id, {"crash": True}, {}))

    with worker(url, calls) as first:
        assert first.wait() == CRASHED, first.text
    assert calls_for(calls, [crash, after]) == Counter([crash])  # it died in there
    assert run_on(url, lambda ctx: effects(ctx, [crash, after])) == Counter()
    assert crash not in run_on(url, lambda ctx: receipts(ctx, "plugin"))

    with worker(url, calls) as second:
        eventually(
            lambda: {crash, after} <= run_on(url, lambda ctx: receipts(ctx, "plugin")),
            what="the events to be handled",
        )
        assert second.stop() == 0, second.text
    assert run_on(url, lambda ctx: effects(ctx, [crash, after])) == Counter([crash, after])
    assert calls_for(calls, [crash, after]) == Counter({crash: 2, after: 1})


def test_sigterm_lets_the_job_in_hand_finish(
    own_database_url: str, shop_id: str, tmp_path: Path
) -> None:
    url, calls = own_database_url, tmp_path / "calls"
    with worker(url, calls) as running:
        running.started()
        (slow,) = run_on(url, lambda ctx: write_events(ctx, shop_id, {"seconds": 0.5}))
        eventually(lambda: slow in calls_for(calls, [slow]), what="the handler to start")
        assert running.stop() == 0, running.text
    assert "SIGTERM: stopping after the job in hand" in running.text
    assert "worker stopped" in running.text
    assert run_on(url, lambda ctx: effects(ctx, [slow])) == Counter([slow])
    assert slow in run_on(url, lambda ctx: receipts(ctx, "plugin"))


def test_two_workers_at_once_handle_each_event_once(
    own_database_url: str, shop_id: str, tmp_path: Path
) -> None:
    url, calls = own_database_url, tmp_path / "calls"
    with worker(url, calls) as one, worker(url, calls) as two:
        one.started()
        two.started()
        batch = run_on(
            url, lambda ctx: write_events(ctx, shop_id, *({"seconds": 0.02} for _ in range(30)))
        )
        eventually(
            lambda: set(batch) <= run_on(url, lambda ctx: receipts(ctx, "plugin")),
            what="the batch to be handled",
        )
        one.process.send_signal(signal.SIGTERM)
        two.process.send_signal(signal.SIGINT)  # Ctrl-C, the same way
        assert (one.wait(), two.wait()) == (0, 0), one.text + two.text
    assert "SIGINT: stopping after the job in hand" in two.text
    assert run_on(url, lambda ctx: effects(ctx, batch)) == Counter(batch)
    assert calls_for(calls, batch) == Counter(batch)  # the other worker waits, then skips


def test_a_consumer_that_cannot_be_loaded_stops_the_start(tmp_path: Path) -> None:
    env = {
        "KASSA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/kassa.db",
        "KASSA_CONSUMERS": "tests.consumer_plugin:handle",
    }
    result = CliRunner(env=env).invoke(app, ["worker"])
    assert result.exit_code == 1
    assert "KASSA_CONSUMERS: 'tests.consumer_plugin:handle' is a function" in result.stderr
    assert not (tmp_path / "kassa.db").exists()  # stopped before touching the database
