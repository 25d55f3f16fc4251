"""The local journal of events: ids and seqs, replay in batches, marked sent, pruned."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from kassa.clubagent.events import KEEP, EventJournal
from kassa.clubagent.model import UNREACHABLE, AgentError
from kassa.protocol.club_pc import MAX_EVENTS, EventKind, PcEvent


class Wall:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_events_get_uuids_and_a_growing_seq_across_restarts(tmp_path: Path) -> None:
    journal = EventJournal(tmp_path / "events.db")
    first = journal.add(EventKind.UNLOCK, "2026-01-01T12:00:00Z", session="s1")
    second = journal.add(EventKind.LAUNCH, "2026-01-01T12:01:00Z", session="s1", app="CS2")
    journal.close()
    journal = EventJournal(tmp_path / "events.db")
    third = journal.add(EventKind.LOCK, "2026-01-01T12:02:00Z", session="s1", reason="time_up")
    assert [e.seq for e in (first, second, third)] == [1, 2, 3]
    assert len({e.id for e in (first, second, third)}) == 3
    assert uuid.UUID(third.id).version == 4
    assert journal.unsent() == [first, second, third]
    journal.close()


def test_replay_sends_batches_and_marks_them_sent(tmp_path: Path) -> None:
    journal = EventJournal(tmp_path / "events.db")
    for _ in range(MAX_EVENTS + 5):
        journal.add(EventKind.TICK, "2026-01-01T12:00:00Z", session="s1")
    batches: list[list[PcEvent]] = []

    async def send(events: list[PcEvent]) -> None:
        batches.append(events)

    assert asyncio.run(journal.replay(send)) == MAX_EVENTS + 5
    assert [len(b) for b in batches] == [MAX_EVENTS, 5]
    assert [e.seq for b in batches for e in b] == list(range(1, MAX_EVENTS + 6))
    assert journal.unsent() == []
    journal.close()


def test_a_batch_the_hub_did_not_answer_stays_unsent(tmp_path: Path) -> None:
    journal = EventJournal(tmp_path / "events.db")
    event = journal.add(EventKind.LOCK, "2026-01-01T12:00:00Z", reason="staff")

    async def down(events: list[PcEvent]) -> None:
        raise AgentError(UNREACHABLE, "no route to host")

    with pytest.raises(AgentError):
        asyncio.run(journal.replay(down))
    assert journal.unsent() == [event]
    journal.close()


def test_sent_events_are_pruned_after_seven_days(tmp_path: Path) -> None:
    wall = Wall()
    journal = EventJournal(tmp_path / "events.db", wall)
    sent = journal.add(EventKind.TICK, "2026-01-01T12:00:00Z")
    journal.mark_sent([sent])
    unsent = journal.add(EventKind.TICK, "2026-01-01T12:01:00Z")
    wall.now += KEEP - 1
    assert journal.prune() == 0
    wall.now += 2
    assert journal.prune() == 1
    assert journal.unsent() == [unsent]
    # The next seq goes on from the highest kept.
    assert journal.add(EventKind.TICK, "2026-01-01T12:02:00Z").seq == 3
    journal.close()
