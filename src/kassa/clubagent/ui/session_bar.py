"""The session bar: a small window along the top of the screen while a customer plays, the
rest of the desktop theirs. The time left (the core's countdown, never the UI's), the 5- and
1-minute warnings, the club's Games and Apps, and "End session" after a confirmation."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from kassa.clubagent.model import Controller, View
from kassa.clubagent.ui import texts
from kassa.clubagent.ui.common import PinnedWindow, Requests, StatusLine, label
from kassa.protocol.club_pc import AppEntry

#: The bar's width at most, in pixels; narrower screens get their whole width.
WIDTH = 1000
#: The catalogue's two tabs: `AppEntry.kind` and the words of its title.
KINDS = (("game", "games"), ("app", "apps"))


class SessionBar(PinnedWindow):
    def __init__(self, controller: Controller, requests: Requests) -> None:
        super().__init__(
            Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
            | Qt.WindowType.Tool
        )
        self.setObjectName("sessionBar")
        self._controller = controller
        self._requests = requests
        self._language = texts.DEFAULT_LANGUAGE
        self._apps: tuple[tuple[AppEntry, ...], str] | None = None
        self.time_left = label("muted", wrap=False)
        self.clock = label("clock", wrap=False)
        self.warning = label("warning", wrap=False)
        self.end = QPushButton()
        self.end.setProperty("role", "danger")
        self.confirm_text = label(wrap=False)
        self.confirm_yes = QPushButton()
        self.confirm_yes.setProperty("role", "danger")
        self.confirm_no = QPushButton()
        self.confirmation = QWidget()
        self.catalogue = QTabWidget()
        self.status = StatusLine()
        self._build()
        self.end.clicked.connect(lambda: self._confirming(True))
        self.confirm_no.clicked.connect(lambda: self._confirming(False))
        self.confirm_yes.clicked.connect(self._end)

    def _build(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.time_left)
        top.addWidget(self.clock)
        top.addSpacing(12)
        top.addWidget(self.warning)
        top.addStretch()
        top.addWidget(self.end)
        confirm = QHBoxLayout(self.confirmation)
        confirm.setContentsMargins(0, 0, 0, 0)
        confirm.addWidget(self.confirm_text, 1)
        confirm.addWidget(self.confirm_yes)
        confirm.addWidget(self.confirm_no)
        self.confirmation.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 10)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.confirmation)
        layout.addWidget(self.status)
        layout.addWidget(self.catalogue)

    def show_view(self, view: View) -> None:
        language = self._language = view.language
        self.time_left.setText(texts.text(language, "time_left"))
        self.clock.setText(texts.clock(view.seconds_left or 0))
        self.warning.setVisible(view.warning is not None)
        if view.warning is not None:
            self.warning.setText(texts.text(language, "warning", minutes=view.warning))
        self.end.setText(texts.text(language, "end_session"))
        self.confirm_text.setText(texts.text(language, "end_confirm"))
        self.confirm_yes.setText(texts.text(language, "end_yes"))
        self.confirm_no.setText(texts.text(language, "cancel"))
        self._catalogue(view.apps, language)
        self.status.set_language(language)

    def place(self) -> None:
        """Along the top edge of the screen, centred."""
        area = self.screen().availableGeometry()
        width = min(WIDTH, area.width())
        height = self.sizeHint().height()
        self.setGeometry(area.left() + (area.width() - width) // 2, area.top(), width, height)

    def _catalogue(self, apps: tuple[AppEntry, ...], language: str) -> None:
        """The Games and Apps tabs, rebuilt only when the catalogue or language changes."""
        if self._apps == (apps, language):
            return
        self._apps = (apps, language)
        self.catalogue.clear()
        for kind, title in KINDS:
            self.catalogue.addTab(
                self._tab([app for app in apps if app.kind == kind], language),
                texts.text(language, title),
            )

    def _tab(self, apps: list[AppEntry], language: str) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 4, 0, 4)
        if not apps:
            empty = label("muted", wrap=False)
            empty.setText(texts.text(language, "no_apps"))
            layout.addWidget(empty)
        for app in apps:
            button = QPushButton(app.name)
            button.setToolTip(app.path)
            button.clicked.connect(lambda _checked=False, app=app: self._launch(app))
            layout.addWidget(button)
        layout.addStretch()
        scroll = QScrollArea()
        scroll.setWidget(row)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setFixedHeight(row.sizeHint().height() + 12)
        return scroll

    def _launch(self, app: AppEntry) -> None:
        self.status.clear()
        self._requests.follow(self._controller.launch(app), lambda _: None, self.status.fail)

    def _confirming(self, asking: bool) -> None:
        self.confirmation.setVisible(asking)
        self.end.setVisible(not asking)

    def _end(self) -> None:
        self._confirming(False)
        self._requests.follow(self._controller.end_session(), lambda _: None, self.status.fail)
