"""The journal's state machine, and what a restart finds in it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from kassa.agentkit.journal import Journal, Operation, State, outcome_unknown

OPERATION = Operation("req-1", "payment", {"kiosk_id": "K", "order_id": 1, "sum": 15000})
RESULT = {"ok": True, "body": {"status": "SUCCESS", "amount": 15000}}


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "state" / "journal.db")


def test_settings(journal: Journal) -> None:
    with journal._lock:
        assert journal._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert journal._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_life_of_an_operation(journal: Journal) -> None:
    assert journal.insert(OPERATION)
    assert not journal.insert(OPERATION)
    entry = journal.get("req-1")
    assert entry is not None
    assert (entry.state, entry.operation, entry.result) == (State.RECEIVED, OPERATION, None)
    assert [e.request_id for e in journal.received()] == ["req-1"]
    assert journal.start_call("req-1")
    assert not journal.start_call("req-1")  # never called twice
    assert not journal.acknowledge("req-1")  # no result yet
    journal.finish("req-1", RESULT)
    entry = journal.get("req-1")
    assert entry is not None
    assert (entry.state, entry.result) == (State.DONE, RESULT)
    assert [e.request_id for e in journal.unacked()] == ["req-1"]
    assert journal.acknowledge("req-1")
    assert not journal.acknowledge("req-1")
    assert journal.unacked() == []
    assert journal.get("req-1").state is State.ACKED  # type: ignore[union-attr]
    journal.finish("req-1", {"ok": False})  # a late result does not overwrite
    assert journal.get("req-1").result == RESULT  # type: ignore[union-attr]


def test_the_money_stays_an_integer(journal: Journal) -> None:
    journal.insert(Operation("big", "payment", {"sum": 12345678901234567890}))
    assert journal.get("big").operation.body == {"sum": 12345678901234567890}  # type: ignore[union-attr]


def test_restart_after_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    first = Journal(path)
    for name in ("received", "calling", "done"):
        first.insert(Operation(name, "payment", {}))
    first.start_call("calling")
    first.start_call("done")
    first.finish("done", RESULT)
    first.close()

    second = Journal(path)
    assert [e.request_id for e in second.interrupted()] == ["calling"]
    assert second.get("calling") == second.interrupted()[0]
    assert [e.request_id for e in second.received()] == ["received"]
    assert [e.request_id for e in second.unacked()] == ["done"]
    second.finish("calling", outcome_unknown())
    assert second.interrupted() == []
    assert {e.request_id for e in second.unacked()} == {"calling", "done"}


def test_prunes_only_old_acknowledged_rows(journal: Journal) -> None:
    for name in ("old", "waiting"):
        journal.insert(Operation(name, "payment", {}))
        journal.finish(name, RESULT)
    journal.acknowledge("old")
    assert journal.prune(keep=3600) == 0
    time.sleep(0.01)
    assert journal.prune(keep=0) == 1
    assert journal.get("old") is None
    assert journal.get("waiting") is not None


def test_concurrent_inserts_of_one_id(journal: Journal) -> None:
    outcomes: list[bool] = []
    barrier = threading.Barrier(8)

    def insert() -> None:
        barrier.wait()
        outcomes.append(journal.insert(OPERATION))

    threads = [threading.Thread(target=insert) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False] * 7 + [True]
