"""The staff's way in: Ctrl+Alt+P on the lock screen asks for a PIN, which the hub checks (not
a password in a local file, as LoVHub had); a right one opens the staff panel for the grant's
time: this PC, its link, its alarms, "Lock again" and "Quit the agent"."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout

from kassa.clubagent.model import Controller, View
from kassa.clubagent.ui import texts
from kassa.clubagent.ui.common import PinnedWindow, Requests, StatusLine, label, restyle
from kassa.protocol.club_pc import StaffGrant

ON_TOP = Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint


class PinDialog(QDialog):
    """The PIN, checked by the hub: closes itself once the hub says yes."""

    def __init__(self, controller: Controller, requests: Requests) -> None:
        super().__init__(None, ON_TOP | Qt.WindowType.Dialog)
        self.setObjectName("pinDialog")
        self._controller = controller
        self._requests = requests
        self.heading = label("heading")
        self.pin = QLineEdit()
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.unlock = QPushButton()
        self.unlock.setProperty("role", "primary")
        self.cancel = QPushButton()
        self.status = StatusLine()
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel)
        buttons.addWidget(self.unlock)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        for widget in (self.heading, self.pin, self.status):
            layout.addWidget(widget)
        layout.addLayout(buttons)
        self.setMinimumWidth(380)
        self.pin.returnPressed.connect(self.submit)
        self.unlock.clicked.connect(self.submit)
        self.cancel.clicked.connect(self.reject)

    def ask(self, language: str) -> None:
        """Show the dialog afresh in `language`."""
        self.heading.setText(texts.text(language, "staff_pin"))
        self.unlock.setText(texts.text(language, "staff_unlock"))
        self.cancel.setText(texts.text(language, "cancel"))
        self.pin.clear()
        self.status.clear()
        self.status.set_language(language)
        self.unlock.setEnabled(True)
        self.show()
        self.raise_()
        self.activateWindow()
        self.pin.setFocus()

    def submit(self) -> None:
        if not self.pin.text():
            return
        self.unlock.setEnabled(False)
        self.status.say("staff_checking")
        self._requests.follow(
            self._controller.staff_unlock(self.pin.text()), self._granted, self._refused
        )

    def _granted(self, _grant: StaffGrant) -> None:
        """The core switches to STAFF; the panel follows from its View."""
        self.pin.clear()
        self.accept()

    def _refused(self, failure: BaseException) -> None:
        self.pin.clear()
        self.status.fail(failure)
        self.unlock.setEnabled(True)


class StaffPanel(PinnedWindow):
    """What the staff sees once let in; "Quit the agent" exists only here."""

    def __init__(self, controller: Controller, quit_agent: Callable[[], None]) -> None:
        super().__init__(ON_TOP)
        self.setObjectName("staffPanel")
        self.heading = label("heading")
        self.pc = label()
        self.link = label()
        self.left = label("muted")
        self.alarms_heading = label("heading")
        self.alarms = label()
        self.lock = QPushButton()
        self.lock.setProperty("role", "primary")
        self.quit = QPushButton()
        self.quit.setProperty("role", "danger")
        buttons = QHBoxLayout()
        buttons.addWidget(self.quit)
        buttons.addStretch()
        buttons.addWidget(self.lock)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(10)
        for widget in (self.heading, self.pc, self.link, self.left, self.alarms_heading):
            layout.addWidget(widget)
        layout.addWidget(self.alarms)
        layout.addStretch()
        layout.addLayout(buttons)
        self.setMinimumWidth(520)
        self.lock.clicked.connect(controller.staff_lock)
        self.quit.clicked.connect(quit_agent)

    def show_view(self, view: View) -> None:
        language, screen = view.language, view.screen
        self.heading.setText(texts.text(language, "staff_title"))
        self.pc.setVisible(screen is not None)
        if screen is not None:
            self.pc.setText(
                texts.text(language, "staff_pc", alias=screen.alias, pc=screen.pc, club=screen.club)
            )
        self.link.setText(texts.text(language, "staff_online" if view.online else "staff_offline"))
        restyle(self.link, "success" if view.online else "error")
        self.left.setVisible(view.staff_seconds_left is not None)
        self.left.setText(
            texts.text(language, "staff_left", time=texts.clock(view.staff_seconds_left or 0))
        )
        self.alarms_heading.setText(texts.text(language, "staff_alarms"))
        self.alarms.setText(
            "\n".join(f"• {alarm}" for alarm in view.alarms)
            or texts.text(language, "staff_no_alarms")
        )
        self.lock.setText(texts.text(language, "staff_lock"))
        self.quit.setText(texts.text(language, "staff_quit"))
