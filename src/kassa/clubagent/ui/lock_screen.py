"""The lock screen: full screen, frameless, above everything. The club and this PC, a banner
when the club's server cannot be reached, why the screen locked, and three cards: signing in
(then the customer), the packages (then buying), topping up online."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QStackedWidget, QVBoxLayout, QWidget

from kassa.clubagent.model import Controller, Mode, View
from kassa.clubagent.ui import texts
from kassa.clubagent.ui.common import PinnedWindow, Requests, card, label
from kassa.clubagent.ui.purchase import PurchasePanel
from kassa.clubagent.ui.sign_in import CustomerPanel, SignInPanel
from kassa.clubagent.ui.topup import TopUpPanel

#: LoVHub's key for the staff: kept, so the club's staff need learn nothing new.
STAFF_KEYS = "Ctrl+Alt+P"


class LockScreen(PinnedWindow):
    #: Ctrl+Alt+P: the staff asks for the PIN dialog.
    staff_requested = Signal()

    def __init__(self, controller: Controller, requests: Requests) -> None:
        super().__init__(Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint)
        self.setObjectName("lockScreen")
        self.club = label("clubName", wrap=False)
        self.alias = label("alias", wrap=False)
        self.offline = label("offline")
        self.offline.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.notice = label("notice")
        self.notice.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sign_in = SignInPanel(controller, requests)
        self.customer = CustomerPanel(controller)
        self.who = QStackedWidget()
        self.who.addWidget(self.sign_in)
        self.who.addWidget(self.customer)
        self.purchase = PurchasePanel(controller, requests)
        self.topup = TopUpPanel(controller, requests)
        self._build()
        shortcut = QShortcut(QKeySequence(STAFF_KEYS), self)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(self.staff_requested)

    def _build(self) -> None:
        header = QHBoxLayout()
        header.addWidget(self.club, 1)
        header.addWidget(self.alias, 0, Qt.AlignmentFlag.AlignBottom)
        cards = QHBoxLayout()
        cards.setSpacing(20)
        cards.addWidget(card(self.who), 3)
        cards.addWidget(card(self.purchase), 4)
        cards.addWidget(card(self.topup), 3)
        body = QWidget()
        body.setMaximumWidth(1360)
        column = QVBoxLayout(body)
        column.setContentsMargins(40, 32, 40, 32)
        column.setSpacing(16)
        column.addLayout(header)
        column.addWidget(self.offline)
        column.addWidget(self.notice)
        column.addLayout(cards, 1)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addStretch(1)
        outer.addWidget(body, 100)
        outer.addStretch(1)

    def cover(self) -> None:
        """Show it over the whole screen. `showFullScreen` asks the window manager; the
        screen's geometry is given too, for a display without one (an X kiosk session, Xvfb),
        where the request alone leaves the window at its natural size in a corner."""
        self.setGeometry(self.screen().geometry())
        self.showFullScreen()

    def show_view(self, view: View) -> None:
        language, screen = view.language, view.screen
        self.setWindowTitle(texts.text(language, "title"))
        self.club.setText(screen.club if screen else texts.text(language, "no_club"))
        self.alias.setText(texts.text(language, "pc", alias=screen.alias) if screen else "")
        self.offline.setText(texts.text(language, "offline"))
        self.offline.setVisible(not view.online)
        self.notice.setVisible(view.notice is not None)
        if view.notice is not None:
            self.notice.setText(texts.notice(language, view.notice))
        signed_in = view.mode is Mode.SIGNED_IN and view.customer is not None
        if not signed_in and self.who.currentWidget() is self.customer:
            self.sign_in.reset()
        self.who.setCurrentWidget(self.customer if signed_in else self.sign_in)
        self.sign_in.show_view(view)
        self.customer.show_view(view)
        self.purchase.show_view(view)
        self.topup.show_view(view)
