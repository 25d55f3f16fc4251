"""The agent's windows as one: `AgentWindows` renders each `View` the core hands over, whole,
on Qt's thread, switching between the lock screen (LOCKED, SIGNED_IN), the session bar
(PLAYING) and the staff panel (STAFF); `run_ui` is the UI process's Qt side."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication

from kassa.clubagent.model import Controller, Mode, View
from kassa.clubagent.ui import theme
from kassa.clubagent.ui.common import Requests
from kassa.clubagent.ui.lock_screen import LockScreen
from kassa.clubagent.ui.message import MessageDialog
from kassa.clubagent.ui.session_bar import SessionBar
from kassa.clubagent.ui.staff import PinDialog, StaffPanel


class AgentWindows(QObject):
    #: A new View, emitted from the core's thread and delivered on Qt's.
    changed = Signal(object)
    #: The staff chose "Quit the agent": the windows are closed, the event loop may end.
    quitting = Signal()

    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.requests = Requests(self)
        self.lock_screen = LockScreen(controller, self.requests)
        self.session_bar = SessionBar(controller, self.requests)
        self.staff_panel = StaffPanel(controller, self.quit)
        self.pin_dialog = PinDialog(controller, self.requests)
        self.message = MessageDialog(controller)
        self.view = controller.view
        self.lock_screen.staff_requested.connect(self.ask_pin)
        self.changed.connect(self.show_view)
        controller.subscribe(self.changed.emit)

    def show(self) -> None:
        self.show_view(self.controller.view)

    def show_view(self, view: View) -> None:
        """Show the window of `view.mode`, hide the others, and the staff's message on top."""
        self.view = view
        locked = view.mode in {Mode.LOCKED, Mode.SIGNED_IN}
        if locked:
            self.lock_screen.show_view(view)
            if not self.lock_screen.isVisible():
                self.lock_screen.cover()
        else:
            self.lock_screen.hide()
            self.pin_dialog.hide()
        if view.mode is Mode.PLAYING:
            self.session_bar.show_view(view)
            if not self.session_bar.isVisible():
                self.session_bar.show()
                self.session_bar.place()
        else:
            self.session_bar.hide()
        if view.mode is Mode.STAFF:
            self.staff_panel.show_view(view)
            self.staff_panel.show()
        else:
            self.staff_panel.hide()
        self.message.show_view(view)

    def ask_pin(self) -> None:
        """Ctrl+Alt+P: the PIN dialog over the lock screen."""
        self.pin_dialog.ask(self.view.language)

    def quit(self) -> None:
        """The staff's "Quit the agent": the only way these windows close."""
        if self.view.mode is not Mode.STAFF:
            return
        for window in (self.lock_screen, self.session_bar, self.staff_panel):
            window.may_close = True
            window.close()
        self.message.hide()
        self.quitting.emit()


def run_ui(controller: Controller) -> int:
    """Show the agent's windows for `controller` and run Qt's event loop until the staff quit."""
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    theme.apply(app)
    app.setQuitOnLastWindowClosed(False)
    windows = AgentWindows(controller)
    windows.quitting.connect(app.quit)
    windows.show()
    return app.exec()
