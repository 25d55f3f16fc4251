"""The OS adapter alone: a launch really starts a program, detached; restart and shutdown do
nothing outside Windows or in a dry run, and on Windows run `shutdown` (replaced by a fake)."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from kassa.clubagent import os_adapter


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX script")
def test_launch_starts_the_program_in_a_session_of_its_own(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    program = tmp_path / "game"
    program.write_text(f"#!/bin/sh\nps -o sid= -p $$ > {marker}\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    os_adapter.launch(str(program))
    deadline = time.monotonic() + 10
    while not marker.exists() or not marker.read_text().strip():
        assert time.monotonic() < deadline, "the program did not run"
        time.sleep(0.02)
    assert int(marker.read_text()) != os.getsid(0)


def test_launch_of_a_missing_program_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.exe"):
        os_adapter.launch(str(tmp_path / "missing.exe"))


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    ran: list[list[str]] = []

    def run(command: list[str], **options: object) -> SimpleNamespace:
        ran.append(command)
        return SimpleNamespace(returncode=0, stderr="")

    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.delenv(os_adapter.DRY_RUN, raising=False)
    return ran


@pytest.mark.parametrize("action", [os_adapter.restart, os_adapter.shutdown])
def test_restart_and_shutdown_are_logged_no_ops_outside_windows(
    action: object,
    commands: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    caplog.set_level(logging.WARNING)
    action()  # type: ignore[operator]
    assert commands == []
    assert "not on Windows, so nothing is done" in caplog.text


def test_on_windows_they_run_shutdown(
    commands: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    os_adapter.restart()
    os_adapter.shutdown()
    assert commands == [["shutdown", "/r", "/t", "0"], ["shutdown", "/s", "/t", "0"]]


def test_a_dry_run_does_nothing_on_windows_either(
    commands: list[list[str]], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv(os_adapter.DRY_RUN, "1")
    caplog.set_level(logging.WARNING)
    os_adapter.restart()
    os_adapter.shutdown()
    assert commands == []
    assert caplog.text.count("KASSA_CLUB_AGENT_DRY_RUN=1, so nothing is done") == 2


def test_windows_refusing_is_an_oserror(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.delenv(os_adapter.DRY_RUN, raising=False)
    monkeypatch.setattr(
        subprocess,
        "run",
        lambda command, **options: SimpleNamespace(returncode=5, stderr="Access is denied."),
    )
    with pytest.raises(OSError, match=r"Access is denied"):
        os_adapter.restart()
