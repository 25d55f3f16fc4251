"""The watchdog's alarms file as the core reads it."""

from __future__ import annotations

from pathlib import Path

from kassa.clubagent import alarms
from kassa.protocol.club import MAX_ALARM_CHARS, MAX_ALARMS


class Wall:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_alarms_are_read_until_they_expire_or_are_cleared(tmp_path: Path) -> None:
    path, wall = tmp_path / alarms.FILE, Wall()
    assert alarms.read(path, wall) == []
    alarms.add(path, "agent killed while in use", wall)
    wall.now += 60
    alarms.add(path, "x" * 500, wall)
    assert alarms.read(path, wall) == ["agent killed while in use", "x" * MAX_ALARM_CHARS]
    wall.now += alarms.KEEP - 30
    assert alarms.read(path, wall) == ["x" * MAX_ALARM_CHARS]
    alarms.clear(path)
    assert alarms.read(path, wall) == []


def test_at_most_the_newest_few_and_garbage_is_nothing(tmp_path: Path) -> None:
    path, wall = tmp_path / alarms.FILE, Wall()
    for n in range(MAX_ALARMS + 2):
        alarms.add(path, f"alarm {n}", wall)
    assert alarms.read(path, wall) == [f"alarm {n}" for n in range(2, MAX_ALARMS + 2)]
    path.write_text('{"alarms": [{"text": 5}, "no"]}')
    assert alarms.read(path, wall) == []
    path.write_text("not json")
    assert alarms.read(path, wall) == []
