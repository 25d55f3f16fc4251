"""A message the staff sent to this PC's screen: above whatever window is up, until OK."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QPushButton, QVBoxLayout

from kassa.clubagent.model import Controller, View
from kassa.clubagent.ui import texts
from kassa.clubagent.ui.common import label


class MessageDialog(QDialog):
    def __init__(self, controller: Controller) -> None:
        super().__init__(
            None,
            Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
            | Qt.WindowType.Dialog,
        )
        self.setObjectName("messageDialog")
        self.heading = label("heading")
        self.text = label("big")
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.ok = QPushButton()
        self.ok.setProperty("role", "primary")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 24)
        layout.setSpacing(14)
        layout.addWidget(self.heading)
        layout.addWidget(self.text)
        layout.addWidget(self.ok, 0, Qt.AlignmentFlag.AlignRight)
        self.setMinimumWidth(460)
        self.ok.clicked.connect(controller.dismiss_message)

    def show_view(self, view: View) -> None:
        """Shown while `View.message` is set: the core clears it once dismissed."""
        if view.message is None:
            self.hide()
            return
        self.heading.setText(texts.text(view.language, "message_title"))
        self.text.setText(view.message)
        self.ok.setText(texts.text(view.language, "ok"))
        if not self.isVisible():
            self.show()
            self.raise_()

    def reject(self) -> None:
        """Escape does not hide it: only OK dismisses the message."""
