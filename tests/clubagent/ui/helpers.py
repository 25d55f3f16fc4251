"""Driving the windows as a person would: clicks and keys (Qt's QTest, what qtbot wraps,
typed)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QLabel, QListWidget, QWidget


def click(button: QAbstractButton) -> None:
    assert button.isVisible(), button.text()
    assert button.isEnabled(), button.text()
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def click_item(items: QListWidget, text: str) -> None:
    """Click the list's row whose words start with `text`."""
    rows = (items.item(row) for row in range(items.count()))
    (item,) = (row for row in rows if row.text().startswith(text))
    QTest.mouseClick(
        items.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        items.visualItemRect(item).center(),
    )


def shown(widget: QWidget) -> list[str]:
    """The words of every label visible in `widget`."""
    return [each.text() for each in widget.findChildren(QLabel) if each.isVisible()]


def says(widget: QWidget, words: str) -> bool:
    return any(words in line for line in shown(widget))


def type_in(field: QWidget, words: str) -> None:
    """Type `words` key by key into `field`."""
    QTest.keyClicks(field, words)


def press(
    widget: QWidget,
    key: Qt.Key,
    modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier,
) -> None:
    QTest.keyClick(widget, key, modifiers)
