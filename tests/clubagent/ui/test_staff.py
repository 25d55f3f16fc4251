# ruff: noqa: RUF001 (the Russian words on screen)
"""Ctrl+Alt+P on the lock screen, the PIN the hub checks, and the staff panel."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kassa.clubagent.model import AgentError, Mode
from kassa.clubagent.ui import AgentWindows
from tests.clubagent.ui.fake import FakeController
from tests.clubagent.ui.helpers import click, press, says, type_in

CTRL_ALT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier


def ask_for_the_pin(qtbot: QtBot, windows: AgentWindows) -> None:
    lock = windows.lock_screen
    lock.activateWindow()
    qtbot.waitUntil(lock.isActiveWindow, timeout=2000)
    press(lock.sign_in.login, Qt.Key.Key_P, CTRL_ALT)
    assert windows.pin_dialog.isVisible()


def test_a_right_pin_opens_the_staff_panel(
    qtbot: QtBot, windows: AgentWindows, controller: FakeController
) -> None:
    ask_for_the_pin(qtbot, windows)
    type_in(windows.pin_dialog.pin, "4321")
    press(windows.pin_dialog.pin, Qt.Key.Key_Return)
    assert controller.calls[-1] == ("staff_unlock", {"pin": "4321"})
    panel = windows.staff_panel
    assert panel.isVisible()
    assert not windows.pin_dialog.isVisible()
    assert not windows.lock_screen.isVisible()
    assert says(panel, "Компьютер: PC-07 (pc_7), Cyber Arena")
    assert says(panel, "Связь с сервером: есть")
    assert says(panel, "Доступ ещё 0:10:00")
    controller.push(alarms=("agent killed while in use",), online=False, language="en")
    assert says(panel, "• agent killed while in use")
    assert says(panel, "Link to the server: down")
    click(panel.lock)
    assert controller.names()[-1] == "staff_lock"
    assert windows.lock_screen.isVisible()
    assert not panel.isVisible()


def test_a_wrong_pin_and_too_many_are_said(
    qtbot: QtBot, windows: AgentWindows, controller: FakeController
) -> None:
    ask_for_the_pin(qtbot, windows)
    dialog = windows.pin_dialog
    controller.failures["staff_unlock"] = AgentError("pin_invalid", "wrong pin")
    type_in(dialog.pin, "0000")
    click(dialog.unlock)
    assert dialog.isVisible()
    assert dialog.status.text() == "Неверный PIN"
    assert dialog.pin.text() == ""
    controller.failures["staff_unlock"] = AgentError("too_many_attempts", "slow down")
    type_in(dialog.pin, "1111")
    click(dialog.unlock)
    assert dialog.status.text() == "Слишком много попыток — подождите несколько минут"
    assert not windows.staff_panel.isVisible()
    click(dialog.cancel)
    assert not dialog.isVisible()


def test_quitting_the_agent_only_from_the_staff_panel(
    qtbot: QtBot, windows: AgentWindows, controller: FakeController
) -> None:
    with qtbot.assertNotEmitted(windows.quitting):
        windows.quit()  # not STAFF: nothing happens
    assert windows.lock_screen.isVisible()
    ask_for_the_pin(qtbot, windows)
    type_in(windows.pin_dialog.pin, "4321")
    click(windows.pin_dialog.unlock)
    with qtbot.waitSignal(windows.quitting, timeout=1000):
        click(windows.staff_panel.quit)
    assert not windows.staff_panel.isVisible()
    assert not windows.lock_screen.isVisible()
    assert controller.view.mode is Mode.STAFF
