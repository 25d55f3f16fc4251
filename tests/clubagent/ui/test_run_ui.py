"""`run_ui`, what the UI process runs: the windows up, the event loop running until the staff
quit the agent from the staff panel."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from kassa.clubagent.model import Mode, View
from kassa.clubagent.ui import run_ui
from kassa.clubagent.ui.staff import StaffPanel
from tests.clubagent.ui.fake import SCREEN, FakeController
from tests.clubagent.ui.helpers import click


def test_run_ui_runs_until_the_staff_quit(qapp: QApplication) -> None:
    controller = FakeController(View(mode=Mode.STAFF, online=True, screen=SCREEN))
    seen: list[StaffPanel] = []

    def quit_as_staff() -> None:
        (panel,) = (
            each
            for each in qapp.topLevelWidgets()
            if isinstance(each, StaffPanel) and each.isVisible()
        )
        seen.append(panel)
        click(panel.quit)

    QTimer.singleShot(50, quit_as_staff)
    # A safety net, never to hang the suite; stopped once the loop ends, since its exit would
    # otherwise end whatever event loop a later test waits in.
    safety = QTimer()
    safety.setSingleShot(True)
    safety.timeout.connect(lambda: qapp.exit(1))
    safety.start(5000)
    try:
        assert run_ui(controller) == 0
    finally:
        safety.stop()
    assert seen
    assert not seen[0].isVisible()
