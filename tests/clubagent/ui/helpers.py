"""Driving the windows as a person would: clicks and keys through qtbot."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QLabel, QListWidget, QWidget
from pytestqt.qtbot import QtBot


def click(qtbot: QtBot, button: QAbstractButton) -> None:
    assert button.isVisible() and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def click_item(qtbot: QtBot, items: QListWidget, text: str) -> None:
    """Click the list's row whose words start with `text`."""
    (item,) = (items.item(row) for row in range(items.count()) if items.item(row).text().startswith(text))
    qtbot.mouseClick(
        items.viewport(), Qt.MouseButton.LeftButton, pos=items.visualItemRect(item).center()
    )


def shown(widget: QWidget) -> list[str]:
    """The words of every label visible in `widget`."""
    return [each.text() for each in widget.findChildren(QLabel) if each.isVisible()]


def says(widget: QWidget, words: str) -> bool:
    return any(words in line for line in shown(widget))
