"""What the app does once it has started, before it serves anything."""

from __future__ import annotations

import gc

from kassa.web.app import GC_YOUNG_THRESHOLD
from tests.live import LiveServer


def test_startup_objects_are_kept_out_of_full_collections(database_url: str) -> None:
    """The objects alive once the app has started are frozen, so a full garbage collection
    does not scan them again (it was a 100 ms pause, `bench/ingest.py`'s p99)."""
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    live = LiveServer(database_url).start()
    try:
        assert gc.get_freeze_count() > 10_000
    finally:
        live.stop()


def test_young_objects_are_collected_less_often_once_started(database_url: str) -> None:
    """A collection of the youngest generation every 20,000 allocations, not 700: it walks
    every young object to find the rare cycle (a fifth of a notification's CPU before)."""
    gc.set_threshold(700, 10, 10)
    live = LiveServer(database_url).start()
    try:
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 10, 10)
    finally:
        live.stop()
