"""The lock screen: signing in, the offline banner, the notices, the top-up QR, and that the
customer cannot close it."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from pytestqt.qtbot import QtBot

from kassa.clubagent.model import AgentError, Mode, Notice
from kassa.clubagent.ui import AgentWindows
from tests.clubagent.ui.fake import FakeController
from tests.clubagent.ui.helpers import click, press, says, type_in


def sign_in(qtbot: QtBot, windows: AgentWindows, login: str, password: str) -> None:
    panel = windows.lock_screen.sign_in
    type_in(panel.login, login)
    type_in(panel.password, password)
    press(panel.password, Qt.Key.Key_Return)


def test_the_lock_screen_shows_the_club_the_pc_and_its_packages(windows: AgentWindows) -> None:
    lock = windows.lock_screen
    assert lock.isVisible()
    assert lock.isFullScreen()
    assert lock.windowFlags() & Qt.WindowType.WindowStaysOnTopHint
    assert lock.windowFlags() & Qt.WindowType.FramelessWindowHint
    assert says(lock, "Cyber Arena")
    assert says(lock, "Компьютер: PC-07")
    rows = [lock.purchase.packages.item(row) for row in range(lock.purchase.packages.count())]
    assert [row.text() for row in rows] == [
        "1 hour  ·  1\u00a0ч  ·  800\u00a0₸",
        "3 hours  ·  3\u00a0ч  ·  2\u202f000\u00a0₸",
        "Night  ·  8\u00a0ч  ·  3\u202f500\u00a0₸  (сейчас недоступен)",
    ]
    assert not rows[2].flags() & Qt.ItemFlag.ItemIsEnabled  # greyed
    assert not windows.session_bar.isVisible()
    assert not windows.staff_panel.isVisible()


def test_signing_in_with_enter_shows_the_customer(
    qtbot: QtBot, windows: AgentWindows, controller: FakeController
) -> None:
    sign_in(qtbot, windows, "aidar", "secret")
    assert controller.calls[0] == ("sign_in", {"login": "aidar", "password": "secret"})
    lock = windows.lock_screen
    assert lock.who.currentWidget() is lock.customer
    assert says(lock, "Здравствуйте, Aidar")
    assert says(lock, "5\u202f200\u00a0₸")
    assert says(lock, "0:30:00")
    assert lock.sign_in.password.text() == ""  # the password is not kept


def test_a_wrong_password_is_said_in_words(
    qtbot: QtBot, windows: AgentWindows, controller: FakeController
) -> None:
    controller.failures["sign_in"] = AgentError("sign_in_failed", "invalid credentials")
    sign_in(qtbot, windows, "aidar", "wrong")
    lock = windows.lock_screen
    assert lock.who.currentWidget() is lock.sign_in
    assert lock.sign_in.status.text() == "Неверный логин или пароль"
    assert lock.sign_in.password.text() == ""
    assert lock.sign_in.button.isEnabled()


def test_an_error_the_ui_does_not_know_shows_the_hubs_message(
    qtbot: QtBot, windows: AgentWindows, controller: FakeController
) -> None:
    controller.failures["sign_in"] = AgentError("club_closed", "The club is closed for the night")
    sign_in(qtbot, windows, "aidar", "secret")
    assert windows.lock_screen.sign_in.status.text() == "The club is closed for the night"


def test_signing_in_without_a_password_asks_for_it(
    qtbot: QtBot, windows: AgentWindows, controller: FakeController
) -> None:
    panel = windows.lock_screen.sign_in
    type_in(panel.login, "aidar")
    press(panel.login, Qt.Key.Key_Return)  # Enter in the login moves to the password
    assert controller.calls == []  # no sign-in without a password
    click(panel.button)
    assert controller.calls == []
    assert panel.status.text() == "Введите логин и пароль"


def test_signing_out_clears_the_sign_in(
    qtbot: QtBot, windows: AgentWindows, controller: FakeController
) -> None:
    sign_in(qtbot, windows, "aidar", "secret")
    click(windows.lock_screen.customer.sign_out)
    lock = windows.lock_screen
    assert controller.names()[-1] == "sign_out"
    assert lock.who.currentWidget() is lock.sign_in
    assert lock.sign_in.login.text() == ""


def test_offline_the_lock_screen_says_to_ask_the_staff(
    windows: AgentWindows, controller: FakeController
) -> None:
    lock = windows.lock_screen
    assert not lock.offline.isVisible()
    controller.push(online=False)
    assert lock.offline.isVisible()
    assert lock.offline.text() == "Сервер клуба недоступен — обратитесь к администратору"
    controller.push(language="en")
    assert lock.offline.text() == "The club's server is unreachable — ask the staff"
    controller.push(online=True)
    assert not lock.offline.isVisible()


def test_the_lock_screen_says_why_it_locked(
    windows: AgentWindows, controller: FakeController
) -> None:
    lock = windows.lock_screen
    assert not lock.notice.isVisible()
    controller.push(notice=Notice.LOCKED_BY_STAFF)
    assert lock.notice.isVisible()
    assert lock.notice.text() == "Компьютер заблокирован администратором"
    controller.push(notice=None)
    assert not lock.notice.isVisible()


def test_the_top_up_qr_is_shown_until_the_payment_is_credited(
    qtbot: QtBot, windows: AgentWindows, controller: FakeController
) -> None:
    panel = windows.lock_screen.topup
    assert not panel.qr.isVisible()
    type_in(panel.login, "aidar")
    type_in(panel.amount, "1500")
    click(panel.button)
    assert controller.calls[-1] == ("top_up", {"login": "aidar", "amount": "1500"})
    assert panel.qr.isVisible()
    assert not panel.qr.pixmap().isNull()
    assert panel.qr.pixmap().width() >= 200
    assert panel.state.text() == "Ждём оплату 1\u202f500\u00a0₸ для aidar…"
    assert not panel.amount.isVisible()
    view = controller.view
    assert view.topup is not None
    controller.push(topup=replace(view.topup, status="credited"))
    assert not panel.qr.isVisible()
    assert panel.state.text() == "Зачислено 1\u202f500\u00a0₸ на счёт aidar"
    click(panel.close_qr)
    assert controller.names()[-1] == "close_topup"
    assert panel.amount.isVisible()
    assert not panel.state.isVisible()


def test_a_top_up_needs_an_amount_and_says_the_hubs_refusal(
    qtbot: QtBot, windows: AgentWindows, controller: FakeController
) -> None:
    panel = windows.lock_screen.topup
    type_in(panel.login, "nobody")
    type_in(panel.amount, "abc")
    click(panel.button)
    assert controller.calls == []
    assert panel.status.text() == "Введите логин и сумму больше нуля"
    controller.failures["top_up"] = AgentError("customer_not_found", "no such login")
    panel.amount.clear()
    type_in(panel.amount, "500")
    press(panel.amount, Qt.Key.Key_Return)
    assert panel.status.text() == "Такого логина в клубе нет"
    assert not panel.qr.isVisible()


def test_a_signed_in_customers_login_is_filled_in_for_a_top_up(
    qtbot: QtBot, windows: AgentWindows
) -> None:
    sign_in(qtbot, windows, "aidar", "secret")
    assert windows.lock_screen.topup.login.text() == "aidar"


def test_no_top_up_where_the_club_offers_none(
    windows: AgentWindows, controller: FakeController
) -> None:
    screen = controller.view.screen
    assert screen is not None
    controller.push(screen=replace(screen, topups=False))
    panel = windows.lock_screen.topup
    assert panel.hint.text() == "Онлайн-пополнение в этом клубе недоступно"
    assert not panel.button.isVisible()


def test_the_customer_cannot_close_the_lock_screen(windows: AgentWindows) -> None:
    event = QCloseEvent()
    windows.lock_screen.closeEvent(event)
    assert not event.isAccepted()
    assert not windows.lock_screen.close()
    assert windows.lock_screen.isVisible()


def test_english_words_when_the_club_speaks_english(
    qtbot: QtBot, windows: AgentWindows, controller: FakeController
) -> None:
    controller.push(language="en")
    lock = windows.lock_screen
    assert lock.sign_in.button.text() == "Sign in"
    assert lock.sign_in.login.placeholderText() == "Login"
    assert says(lock, "Computer: PC-07")
    assert says(lock, "Top up online")
    assert lock.purchase.packages.item(2).text().endswith("(not available now)")
    sign_in(qtbot, windows, "aidar", "secret")
    assert says(lock, "Hello, Aidar")
    assert lock.customer.sign_out.text() == "Sign out"
    assert controller.view.mode is Mode.SIGNED_IN
