"""The lease kept on disk: signed, read back after a restart, ignored when edited, and
counted as run out after a reboot."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from kassa.clubagent.lease import CONTINUE, Held, Reference
from kassa.clubagent.lease_store import Ended, LeaseStore, Saved, boot_id
from tests.clubagent.fakes import T0, FakeClock, lease


def saved() -> Saved:
    return Saved(
        Held(lease(seq=7), Reference(T0, 1000.0)),
        (Ended("s0", T0 - timedelta(minutes=3)),),
    )


def test_a_saved_lease_survives_a_restart_of_the_agent(tmp_path: Path) -> None:
    clock = FakeClock(1000.0)
    LeaseStore(tmp_path / "lease.json", "token-1", clock, "boot-a").save(saved())
    clock.advance(30)  # the agent restarts, the PC does not
    assert LeaseStore(tmp_path / "lease.json", "token-1", clock, "boot-a").load() == saved()


def test_an_edited_file_is_ignored_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "lease.json"
    LeaseStore(path, "token-1", FakeClock(), "boot-a").save(saved())
    signed = json.loads(path.read_text())
    signed["payload"] = signed["payload"].replace("2026-01-01T12:05:00", "2026-01-01T23:05:00")
    path.write_text(json.dumps(signed))
    with caplog.at_level(logging.WARNING):
        assert LeaseStore(path, "token-1", FakeClock(), "boot-a").load() == Saved()
    assert "signature" in caplog.text
    # Another PC's token does not read this one's file either.
    LeaseStore(path, "token-1", FakeClock(), "boot-a").save(saved())
    assert LeaseStore(path, "token-2", FakeClock(), "boot-a").load() == Saved()


def test_after_a_reboot_the_lease_counts_as_run_out(tmp_path: Path) -> None:
    path = tmp_path / "lease.json"
    LeaseStore(path, "t", FakeClock(1000.0), "boot-a").save(saved())
    # Another boot id: the lease is dropped, the unreported lock is kept.
    again = LeaseStore(path, "t", FakeClock(5000.0), "boot-b").load()
    assert again == Saved(None, saved().ended)
    # No boot id (not Linux): the monotonic clock went backwards.
    LeaseStore(path, "t", FakeClock(1000.0), None).save(saved())
    assert LeaseStore(path, "t", FakeClock(20.0), None).load().held is None
    assert LeaseStore(path, "t", FakeClock(1001.0), None).load().held == saved().held


def test_no_file_or_garbage_is_no_lease(tmp_path: Path) -> None:
    path = tmp_path / "lease.json"
    assert LeaseStore(path, "t", FakeClock()).load() == Saved()
    path.write_text("{not json")
    assert LeaseStore(path, "t", FakeClock()).load() == Saved()


def test_boot_id(tmp_path: Path) -> None:
    (tmp_path / "boot_id").write_text("abc\n")
    assert boot_id(tmp_path / "boot_id") == "abc"
    assert boot_id(tmp_path / "missing") is None


def test_the_policy_and_a_staff_lock_are_kept_with_the_lease(tmp_path: Path) -> None:
    path = tmp_path / "lease.json"
    kept = Saved(saved().held, saved().ended, policy=CONTINUE, suspended=True)
    LeaseStore(path, "t", FakeClock(1000.0), "boot-a").save(kept)
    assert LeaseStore(path, "t", FakeClock(1010.0), "boot-a").load() == kept
    # A file saved before they were kept reads as the `lock` policy, not locked by staff.
    signed = json.loads(path.read_text())
    payload = json.loads(signed["payload"])
    del payload["policy"], payload["suspended"]
    store = LeaseStore(path, "t", FakeClock(1010.0), "boot-a")
    signed["payload"] = json.dumps(payload, sort_keys=True)
    signed["hmac"] = store._sign(signed["payload"])
    path.write_text(json.dumps(signed))
    assert store.load() == saved()
