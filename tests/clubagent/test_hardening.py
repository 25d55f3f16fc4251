"""The hardening module alone: its documented list, the no-ops outside Windows, and the Windows
steps with winreg, user32 and the commands replaced by fakes that record what they are asked."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from kassa.clubagent import hardening


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardening, "_state", None)
    monkeypatch.setattr(hardening, "_skipped", set())


def test_the_list_is_lovhubs_in_order_each_step_described() -> None:
    assert [step.name for step in hardening.STEPS] == [
        "task_manager",
        "explorer",
        "taskbar",
        "work_area",
    ]
    descriptions = " ".join(step.description for step in hardening.STEPS)
    for words in ("DisableTaskMgr", "explorer.exe", "Shell_TrayWnd", "work area"):
        assert words in descriptions
    assert all("restored" in step.description for step in hardening.STEPS)


def test_outside_windows_every_step_is_a_no_op_said_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    ran: list[str] = []

    def recorder(name: str) -> Callable[[], None]:
        return lambda: ran.append(name)

    monkeypatch.setattr(
        hardening,
        "STEPS",
        tuple(
            hardening.Step(step.name, step.description, recorder(step.name), recorder(step.name))
            for step in hardening.STEPS
        ),
    )
    caplog.set_level(logging.INFO, logger=hardening.__name__)
    hardening.apply()
    hardening.restore()
    hardening.apply()
    assert ran == []
    said = [record.getMessage() for record in caplog.records]
    assert said == [f"hardening {step.name}: not on Windows, a no-op" for step in hardening.STEPS]


class Registry:
    """winreg's calls the module makes, on a dict of (key path, value name) → value."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_SET_VALUE = 2
    REG_DWORD = 4

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], Any] = {}

    class Key:
        def __init__(self, path: str) -> None:
            self.path = path

        def __enter__(self) -> Registry.Key:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def CreateKeyEx(self, root: str, path: str, reserved: int, access: int) -> Key:
        assert (root, reserved, access) == ("HKCU", 0, self.KEY_SET_VALUE)
        return self.Key(path)

    def OpenKey(self, root: str, path: str, reserved: int, access: int) -> Key:
        if not any(key == path for key, _ in self.values):
            raise FileNotFoundError(path)
        return self.Key(path)

    def SetValueEx(self, key: Key, name: str, reserved: int, kind: int, value: int) -> None:
        assert kind == self.REG_DWORD
        self.values[key.path, name] = value

    def DeleteValue(self, key: Key, name: str) -> None:
        if (key.path, name) not in self.values:
            raise FileNotFoundError(name)
        del self.values[key.path, name]


class User32:
    """user32's calls: one taskbar window (docked at the bottom), a 1920x1080 screen."""

    TASKBAR = 0x10

    def __init__(self) -> None:
        self.visible = True
        self.work_area: tuple[int, int, int, int] | None = None

    def FindWindowW(self, cls: str, title: None) -> int:
        return self.TASKBAR if cls == "Shell_TrayWnd" else 0

    def ShowWindow(self, window: int, show: int) -> int:
        assert window == self.TASKBAR
        self.visible = show == hardening.SW_SHOW
        return 1

    def GetSystemMetrics(self, index: int) -> int:
        return {hardening.SM_CXSCREEN: 1920, hardening.SM_CYSCREEN: 1080}[index]

    def GetWindowRect(self, window: int, rect: Any) -> int:
        rect._obj.left, rect._obj.top, rect._obj.right, rect._obj.bottom = 0, 1032, 1920, 1080
        return 1

    def SystemParametersInfoW(self, action: int, param: int, rect: Any, flags: int) -> int:
        assert (action, flags) == (hardening.SPI_SETWORKAREA, hardening.SPIF_SENDCHANGE)
        area = rect._obj
        self.work_area = (area.left, area.top, area.right, area.bottom)
        return 1


class Windows:
    """The fakes together, plus the commands run (taskkill, tasklist) and started (explorer)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.registry = Registry()
        self.user32 = User32()
        self.explorer = True
        self.commands: list[tuple[str, ...]] = []
        monkeypatch.setattr(sys, "platform", "win32")
        monkeypatch.setattr(hardening, "_winreg", lambda: self.registry)
        monkeypatch.setattr(hardening, "_user32", lambda: self.user32)
        monkeypatch.setattr(hardening, "_run", self.run)
        monkeypatch.setattr(subprocess, "Popen", self.popen)

    def run(self, *command: str) -> SimpleNamespace:
        self.commands.append(command)
        if command[0] == "taskkill":
            self.explorer = False
        listed = '"explorer.exe","4242"' if self.explorer else "INFO: No tasks are running"
        return SimpleNamespace(returncode=0, stdout=listed, stderr="")

    def popen(self, command: list[str], **options: object) -> None:
        self.commands.append(tuple(command))
        assert command[0].lower().endswith("explorer.exe")
        self.explorer = True

    @property
    def task_manager_disabled(self) -> bool:
        return self.registry.values.get((hardening.POLICY_KEY, "DisableTaskMgr")) == 1


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> Windows:
    return Windows(monkeypatch)


def test_apply_on_windows_locks_every_step_down(windows: Windows) -> None:
    hardening.apply()
    assert windows.task_manager_disabled
    assert ("taskkill", "/f", "/im", "explorer.exe") in windows.commands
    assert not windows.explorer
    assert not windows.user32.visible
    assert windows.user32.work_area == (0, 0, 1920, 1080)


def test_restore_on_windows_undoes_every_step(windows: Windows) -> None:
    hardening.apply()
    hardening.restore()
    assert windows.registry.values == {}
    assert windows.explorer
    assert windows.user32.visible
    # The screen less the taskbar's strip along the bottom.
    assert windows.user32.work_area == (0, 0, 1920, 1032)


def test_apply_and_restore_are_idempotent(windows: Windows) -> None:
    hardening.apply()
    ran = len(windows.commands)
    hardening.apply()
    assert len(windows.commands) == ran  # nothing done again in this process
    hardening.restore()
    hardening.restore()
    started = [command for command in windows.commands if command[0].endswith("explorer.exe")]
    assert len(started) == 1


def test_a_forced_restore_leaves_a_running_explorer_alone(windows: Windows) -> None:
    """The watchdog restores after the UI (another process) applied: everything is undone
    again, and Explorer, already running, is not started twice (that opens a folder)."""
    hardening.restore(force=True)
    hardening.restore(force=True)
    assert not any(command[0].endswith("explorer.exe") for command in windows.commands)
    assert windows.user32.visible
    assert windows.registry.values == {}


def test_restoring_what_was_never_applied_is_harmless(windows: Windows) -> None:
    hardening.restore()
    assert windows.registry.values == {}


def test_a_failing_step_is_logged_and_the_others_still_run(
    windows: Windows, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refused() -> Any:
        raise PermissionError("access denied")

    monkeypatch.setattr(hardening, "_winreg", refused)
    hardening.apply()
    assert "hardening task_manager: apply failed" in caplog.text
    assert not windows.explorer
    assert not windows.user32.visible
