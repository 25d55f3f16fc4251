"""The PC locked down while the lock screen is up: LoVHub's hardening, each step listed in
`STEPS` (docs/club-agent.md, "What the agent changes on the PC"), all undone by `restore()`.

On Windows, in this order:

1. `task_manager`: Task Manager disabled by policy, the value `DisableTaskMgr = 1` under
   `HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\System`; restored by
   deleting the value.
2. `explorer`: Explorer stopped (`taskkill /f /im explorer.exe`), so neither its desktop nor
   its Start menu is there behind the lock screen; restored by starting `explorer.exe` again
   when it is not running.
3. `taskbar`: the taskbar's window (`Shell_TrayWnd`) hidden, should one still be there;
   shown again on restore.
4. `work_area`: the work area (what maximised windows fill) set to the whole primary screen;
   on restore, the screen less the taskbar's strip (an Explorer started anew reserves that
   strip itself).

`apply()` and `restore()` are idempotent and cheap to repeat: each does its work once per
state change in this process (`restore(force=True)` does it regardless), and a failing step is
logged without stopping the others.
They are called when the screen locks and unlocks, at the UI's exit, and by the watchdog when
it finds the UI process dead (in a process of its own, so it restores all the steps again).

On any other system every step is a no-op that says so once in the log. The Windows modules
(`winreg`, `ctypes.windll`) are imported only when a step runs on Windows.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

POLICY_KEY = r"Software\Microsoft\Windows\CurrentVersion\Policies\System"
POLICY_VALUE = "DisableTaskMgr"
TASKBAR_CLASS = "Shell_TrayWnd"
EXPLORER = "explorer.exe"

# user32's constants.
SW_HIDE = 0
SW_SHOW = 5
SM_CXSCREEN = 0
SM_CYSCREEN = 1
SPI_SETWORKAREA = 0x002F
SPIF_SENDCHANGE = 0x0002


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    #: What it does and how it is undone, in a sentence (also docs/club-agent.md's list).
    description: str
    apply: Callable[[], None]
    restore: Callable[[], None]


def _winreg() -> Any:
    import winreg  # type: ignore[import-not-found,unused-ignore]

    return winreg


def _user32() -> Any:
    import ctypes

    return ctypes.windll.user32  # type: ignore[attr-defined]


def _rect(left: int, top: int, right: int, bottom: int) -> Any:
    from ctypes import wintypes

    return wintypes.RECT(left, top, right, bottom)


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603


def _disable_task_manager() -> None:
    winreg = _winreg()
    with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, POLICY_KEY, 0, winreg.KEY_SET_VALUE) as key:
        winreg.SetValueEx(key, POLICY_VALUE, 0, winreg.REG_DWORD, 1)


def _enable_task_manager() -> None:
    winreg = _winreg()
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, POLICY_KEY, 0, winreg.KEY_SET_VALUE) as key:
            winreg.DeleteValue(key, POLICY_VALUE)
    except FileNotFoundError:
        pass  # not set: nothing to undo


def _explorer_running() -> bool:
    done = _run("tasklist", "/fi", f"imagename eq {EXPLORER}", "/fo", "csv", "/nh")
    return EXPLORER in done.stdout.lower()


def _stop_explorer() -> None:
    # Exit code 128: no such process, which is what is wanted.
    _run("taskkill", "/f", "/im", EXPLORER)


def _start_explorer() -> None:
    if _explorer_running():
        return  # starting it again would only open a folder window
    windows = os.environ.get("WINDIR", r"C:\Windows")
    subprocess.Popen([os.path.join(windows, EXPLORER)], close_fds=True)  # noqa: S603


def _show_taskbar(show: int) -> None:
    user32 = _user32()
    window = user32.FindWindowW(TASKBAR_CLASS, None)
    if window:
        user32.ShowWindow(window, show)


def _hide_taskbar() -> None:
    _show_taskbar(SW_HIDE)


def _unhide_taskbar() -> None:
    _show_taskbar(SW_SHOW)


def _set_work_area(left: int, top: int, right: int, bottom: int) -> None:
    import ctypes

    rect = _rect(left, top, right, bottom)
    if not _user32().SystemParametersInfoW(SPI_SETWORKAREA, 0, ctypes.byref(rect), SPIF_SENDCHANGE):
        raise OSError("SystemParametersInfoW(SPI_SETWORKAREA) failed")


def _full_work_area() -> None:
    user32 = _user32()
    _set_work_area(0, 0, user32.GetSystemMetrics(SM_CXSCREEN), user32.GetSystemMetrics(SM_CYSCREEN))


def _work_area_beside_taskbar() -> None:
    import ctypes

    user32 = _user32()
    width = user32.GetSystemMetrics(SM_CXSCREEN)
    height = user32.GetSystemMetrics(SM_CYSCREEN)
    window = user32.FindWindowW(TASKBAR_CLASS, None)
    taskbar = _rect(0, 0, 0, 0)
    if not window or not user32.GetWindowRect(window, ctypes.byref(taskbar)):
        return  # no taskbar yet: Explorer sets the work area when it makes one
    left, top, right, bottom = 0, 0, width, height
    if taskbar.top > 0:  # along the bottom edge
        bottom = taskbar.top
    elif taskbar.left > 0:  # along the right edge
        right = taskbar.left
    elif taskbar.right >= width:  # along the top edge
        top = taskbar.bottom
    else:  # along the left edge
        left = taskbar.right
    _set_work_area(left, top, right, bottom)


STEPS: tuple[Step, ...] = (
    Step(
        "task_manager",
        f"Task Manager disabled by policy (HKCU\\{POLICY_KEY}\\{POLICY_VALUE} = 1); "
        "restored by deleting the value.",
        _disable_task_manager,
        _enable_task_manager,
    ),
    Step(
        "explorer",
        f"Explorer stopped (taskkill /f /im {EXPLORER}); restored by starting {EXPLORER} again "
        "when it is not running.",
        _stop_explorer,
        _start_explorer,
    ),
    Step(
        "taskbar",
        f"The taskbar ({TASKBAR_CLASS}) hidden; restored by showing it.",
        _hide_taskbar,
        _unhide_taskbar,
    ),
    Step(
        "work_area",
        "The work area set to the whole primary screen; restored to the screen less the "
        "taskbar's strip.",
        _full_work_area,
        _work_area_beside_taskbar,
    ),
)

#: What this process last did: True applied, False restored, None neither yet.
_state: bool | None = None
#: The steps already said to be skipped (outside Windows), each said once.
_skipped: set[str] = set()


def apply() -> None:
    """Lock the PC down: every step of `STEPS`, in order."""
    _change(applied=True)


def restore(*, force: bool = False) -> None:
    """Undo every step of `STEPS`, in order. `force`: even if this process restored them last
    (the watchdog's case: the UI, another process, may have applied them since)."""
    _change(applied=False, force=force)


def _change(*, applied: bool, force: bool = False) -> None:
    global _state  # noqa: PLW0603  # one PC, one state: what this process last did
    if _state is applied and not force:
        return
    _state = applied
    what = "apply" if applied else "restore"
    for step in STEPS:
        if sys.platform != "win32":
            if step.name not in _skipped:
                _skipped.add(step.name)
                log.info("hardening %s: not on Windows, a no-op", step.name)
            continue
        try:
            (step.apply if applied else step.restore)()
        except Exception:
            log.exception("hardening %s: %s failed", step.name, what)
        else:
            log.info("hardening %s: %s done", step.name, what)
