"""The lock screen's left card: signing in (LOCKED), then who is signed in (SIGNED_IN)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QPushButton, QVBoxLayout, QWidget

from kassa.clubagent.model import Controller, View
from kassa.clubagent.ui import texts
from kassa.clubagent.ui.common import Requests, StatusLine, label
from kassa.protocol.club_pc import SignedIn


class SignInPanel(QWidget):
    """Login, password and a button; Enter in either field signs in."""

    def __init__(self, controller: Controller, requests: Requests) -> None:
        super().__init__()
        self._controller = controller
        self._requests = requests
        self._language = texts.DEFAULT_LANGUAGE
        self.heading = label("heading")
        self.login = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.button = QPushButton()
        self.button.setProperty("role", "primary")
        self.status = StatusLine()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        for widget in (self.heading, self.login, self.password, self.button, self.status):
            layout.addWidget(widget)
        layout.addStretch()
        self.login.returnPressed.connect(self._next)
        self.password.returnPressed.connect(self.submit)
        self.button.clicked.connect(self.submit)

    def show_view(self, view: View) -> None:
        language = self._language = view.language
        self.heading.setText(texts.text(language, "sign_in"))
        self.login.setPlaceholderText(texts.text(language, "login"))
        self.password.setPlaceholderText(texts.text(language, "password"))
        self.button.setText(texts.text(language, "sign_in_button"))
        self.status.set_language(language)

    def reset(self) -> None:
        """Forget what was typed (back on the lock screen after a customer)."""
        self.login.clear()
        self.password.clear()
        self.status.clear()
        self.button.setEnabled(True)

    def _next(self) -> None:
        if self.password.text():
            self.submit()
        else:
            self.password.setFocus()

    def submit(self) -> None:
        login, password = self.login.text().strip(), self.password.text()
        if not login or not password:
            self.status.say("enter_login")
            return
        self.button.setEnabled(False)
        self.status.say("signing_in")
        self._requests.follow(
            self._controller.sign_in(login, password), self._signed_in, self._failed
        )

    def _signed_in(self, _customer: SignedIn) -> None:
        self.password.clear()
        self.status.clear()
        self.button.setEnabled(True)

    def _failed(self, failure: BaseException) -> None:
        self.password.clear()
        self.password.setFocus()
        self.status.fail(failure)
        self.button.setEnabled(True)


class CustomerPanel(QWidget):
    """The signed-in customer: name, balance, time bank, and the way out."""

    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.hello = label("heading")
        self.hello.setTextFormat(Qt.TextFormat.PlainText)
        self.balance = label()
        self.time_bank = label()
        self.package_time = label()
        self.sign_out = QPushButton()
        self.sign_out.clicked.connect(controller.sign_out)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        for widget in (self.hello, self.balance, self.time_bank, self.package_time):
            layout.addWidget(widget)
        layout.addStretch()
        layout.addWidget(self.sign_out)

    def show_view(self, view: View) -> None:
        language, customer = view.language, view.customer
        if customer is None:
            return
        currency = view.screen.currency if view.screen else ""
        self.hello.setText(texts.text(language, "hello", name=customer.name or customer.login))
        rows = (
            (self.balance, "balance", texts.money(customer.balance, currency, language)),
            (self.time_bank, "time_bank", texts.clock(customer.time_bank_seconds)),
            (self.package_time, "package_time", texts.clock(customer.package_seconds)),
        )
        for widget, key, value in rows:
            widget.setText(f"{texts.text(language, key)}: <b>{value}</b>")
        self.package_time.setVisible(customer.package_seconds > 0)
        self.sign_out.setText(texts.text(language, "sign_out"))
