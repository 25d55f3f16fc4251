"""Screenshots of the windows, in Russian and English, for people to look at (and for this
test to check they are drawn): `test-artifacts/club-agent/*.png`, not committed."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QWidget

from kassa.clubagent.model import Mode
from kassa.clubagent.ui import AgentWindows
from kassa.protocol.club_pc import Preview, Topup
from tests.clubagent.ui.fake import APPS, FakeController
from tests.clubagent.ui.helpers import click_item, press, type_in

SHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "club-agent"
SCREEN = QSize(1280, 720)


def shoot(widget: QWidget, name: str, size: QSize | None = None) -> Path:
    """Save `widget` as `name`.png at `size` (its own size if None) and check it is a picture:
    the right size and many colours, not a blank or a black rectangle."""
    if size is not None:
        widget.showNormal()
        widget.resize(size)
    QApplication.processEvents()
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    assert widget.grab().save(str(path))
    image = QImage(str(path))
    if size is not None:
        assert image.size() == size
    step = 4
    colours = {
        image.pixel(x, y)
        for x in range(0, image.width(), step)
        for y in range(0, image.height(), step)
    }
    assert len(colours) > 20, f"{path} looks blank"
    return path


@pytest.mark.parametrize("language", ["ru", "en"])
def test_screenshots(windows: AgentWindows, controller: FakeController, language: str) -> None:
    controller.push(language=language)
    lock = windows.lock_screen
    type_in(lock.topup.login, "aidar")
    type_in(lock.topup.amount, "2000")
    press(lock.topup.amount, Qt.Key.Key_Return)
    assert lock.topup.qr.isVisible()
    shoot(lock, f"lock-screen-{language}", SCREEN)

    controller.close_topup()
    type_in(lock.sign_in.login, "aidar")
    type_in(lock.sign_in.password, "secret")
    press(lock.sign_in.password, Qt.Key.Key_Return)
    controller.preview_answer = Preview(
        seconds=10800,
        price="2000.00",
        time_bank_seconds=1800,
        package_seconds=0,
        balance_after="3200.00",
    )
    click_item(lock.purchase.packages, "3 hours")
    assert lock.purchase.price.isVisible()
    shoot(lock, f"signed-in-{language}", SCREEN)

    controller.push(
        mode=Mode.PLAYING, customer=None, session="ses_1", seconds_left=272, warning=5, apps=APPS
    )
    assert windows.session_bar.warning.isVisible()
    shoot(windows.session_bar, f"session-bar-{language}")

    controller.push(mode=Mode.LOCKED, session=None, seconds_left=None, warning=None, online=False)
    assert lock.offline.isVisible()
    shoot(lock, f"lock-screen-offline-{language}", SCREEN)


def test_a_credited_top_up_screenshot(windows: AgentWindows, controller: FakeController) -> None:
    controller.push(
        language="en",
        topup=Topup(
            id="top_1", login="aidar", amount="2000", currency="KZT", status="credited", qr=None
        ),
    )
    shoot(windows.lock_screen, "lock-screen-credited-en", SCREEN)
