"""The alarms the watchdog leaves for the core (`alarms.json` in the agent's data dir): what
is wrong with the PC, carried in heartbeats (`kassa.protocol.club`) until staff clear them (a
staff PIN unlock) or `KEEP` seconds pass.

The file is `{"alarms": [{"text": "agent killed while in use", "at": 1760000000.0}]}`, `at`
in seconds of the wall clock (an alarm's age is for staff's eyes, not for billing).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kassa.clubagent.files import atomic_write
from kassa.protocol.club import MAX_ALARM_CHARS, MAX_ALARMS

log = logging.getLogger(__name__)

FILE = "alarms.json"
#: An alarm is carried this long at most, in seconds.
KEEP = 15 * 60

Clock = Callable[[], float]


def read(path: Path, clock: Clock = time.time) -> list[str]:
    """The alarms younger than `KEEP`, oldest first; none if the file is missing or unreadable."""
    now = clock()
    return [text for text, at in _entries(path) if now - at < KEEP][-MAX_ALARMS:]


def add(path: Path, text: str, clock: Clock = time.time) -> None:
    """Record an alarm (what the watchdog does)."""
    now = clock()
    kept = [(t, at) for t, at in _entries(path) if now - at < KEEP]
    _write(path, [*kept, (text[:MAX_ALARM_CHARS], now)])


def clear(path: Path) -> None:
    """Staff have seen them: forget every alarm."""
    path.unlink(missing_ok=True)


def _entries(path: Path) -> list[tuple[str, float]]:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("ignored the unreadable alarms file %s: %s", path, exc)
        return []
    found: list[tuple[str, float]] = []
    for each in data.get("alarms", []) if isinstance(data, dict) else []:
        text, at = (each.get("text"), each.get("at")) if isinstance(each, dict) else (None, None)
        if isinstance(text, str) and isinstance(at, int | float) and not isinstance(at, bool):
            found.append((text, float(at)))
    return found


def _write(path: Path, entries: list[tuple[str, float]]) -> None:
    data = {"alarms": [{"text": text, "at": at} for text, at in entries]}
    atomic_write(path, json.dumps(data).encode())
