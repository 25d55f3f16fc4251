"""What the app does once it has started, before it serves anything."""

from __future__ import annotations

import gc

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
