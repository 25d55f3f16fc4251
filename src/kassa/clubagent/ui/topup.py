"""The lock screen's right card: topping up a balance online. A login and an amount give a QR
to pay with a phone; the core follows the payment, and the card says when it is credited."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from kassa.clubagent.model import Controller, View
from kassa.clubagent.ui import texts
from kassa.clubagent.ui.common import Requests, StatusLine, label, restyle
from kassa.clubagent.ui.qr import qr_pixmap
from kassa.protocol.club_pc import Topup

#: The QR's side on screen, in pixels: big enough for any phone at arm's length.
QR_SIZE = 220


class TopUpPanel(QWidget):
    def __init__(self, controller: Controller, requests: Requests) -> None:
        super().__init__()
        self._controller = controller
        self._requests = requests
        self._qr_data: str | None = None
        self.heading = label("heading")
        self.hint = label("muted")
        self.login = QLineEdit()
        self.amount = QLineEdit()
        self.button = QPushButton()
        self.qr = QLabel()
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.state = label()
        self.close_qr = QPushButton()
        self.status = StatusLine()
        self.form = (self.hint, self.login, self.amount, self.button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(self.heading)
        for widget in (*self.form, self.qr, self.state, self.close_qr, self.status):
            layout.addWidget(widget)
        layout.addStretch()
        self.amount.returnPressed.connect(self.submit)
        self.button.clicked.connect(self.submit)
        self.close_qr.clicked.connect(controller.close_topup)

    def show_view(self, view: View) -> None:
        language, topup = view.language, view.topup
        offered = view.screen is not None and view.screen.topups
        self.heading.setText(texts.text(language, "topup"))
        self.hint.setText(texts.text(language, "topup_off" if not offered else "topup_hint"))
        self.login.setPlaceholderText(texts.text(language, "login"))
        self.amount.setPlaceholderText(texts.text(language, "amount"))
        self.button.setText(texts.text(language, "topup_button"))
        self.close_qr.setText(texts.text(language, "close"))
        if view.customer is not None and not self.login.text():
            self.login.setText(view.customer.login)
        self.hint.setVisible(topup is None)
        for widget in self.form[1:]:
            widget.setVisible(offered and topup is None)
        self.close_qr.setVisible(topup is not None)
        self._show(topup, language)
        self.status.set_language(language)

    def _show(self, topup: Topup | None, language: str) -> None:
        """The QR while the payment is awaited; then whether it was credited."""
        waiting = topup is not None and topup.status == "pending" and bool(topup.qr)
        self.qr.setVisible(waiting)
        self.state.setVisible(topup is not None)
        if topup is None:
            self._qr_data = None
            return
        if waiting and topup.qr != self._qr_data:
            self._qr_data = topup.qr
            self.qr.setPixmap(qr_pixmap(topup.qr or "").scaled(QR_SIZE, QR_SIZE))
        amount = texts.money(topup.amount, topup.currency, language)
        key, name = {
            "credited": ("topup_credited", "success"),
            "failed": ("topup_failed", "error"),
        }.get(topup.status, ("topup_waiting", "muted"))
        restyle(self.state, name)
        self.state.setText(texts.text(language, key, amount=amount, login=topup.login))

    def submit(self) -> None:
        login, amount = self.login.text().strip(), self.amount.text().strip().replace(",", ".")
        try:
            valid = bool(login) and Decimal(amount) > 0
        except InvalidOperation:
            valid = False
        if not valid:
            self.status.say("enter_amount")
            return
        self.status.clear()
        self.button.setEnabled(False)
        self._requests.follow(self._controller.top_up(login, amount), self._asked, self._failed)

    def _asked(self, _topup: Topup) -> None:
        """The QR comes with the View the core hands over (`View.topup`)."""
        self.amount.clear()
        self.button.setEnabled(True)

    def _failed(self, failure: BaseException) -> None:
        self.status.fail(failure)
        self.button.setEnabled(True)
