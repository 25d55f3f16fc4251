"""The lock screen's middle card: the club's packages with their prices, and once a customer
has signed in, choosing a package or per-minute play, its price first, then "Start"."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QIntValidator
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kassa.clubagent.model import Controller, Mode, View
from kassa.clubagent.ui import texts
from kassa.clubagent.ui.common import Requests, StatusLine, label
from kassa.protocol.club_pc import PackageOffer, Preview

#: What the customer chose: a package's name, or per-minute play's minutes (None: as long as
#: the balance lasts).
Choice = tuple[str | None, int | None]
#: Per-minute play's minutes: at most a day, stepped by a quarter of an hour.
MAX_MINUTES = 24 * 60
MINUTES_STEP = 15


class PurchasePanel(QWidget):
    def __init__(self, controller: Controller, requests: Requests) -> None:
        super().__init__()
        self._controller = controller
        self._requests = requests
        self._view = View()
        self._shown: tuple[object, ...] = ()
        self._choice: Choice | None = None
        self._preview: Preview | None = None
        self.heading = label("heading")
        self.packages = QListWidget()
        self.packages.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.packages.setWordWrap(True)
        self.hint = label("muted")
        self.per_minute = QPushButton()
        self.per_minute.setCheckable(True)
        self.minutes = QLineEdit()
        self.minutes.setValidator(QIntValidator(1, MAX_MINUTES))
        self.minutes.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.unit = label("muted", wrap=False)
        self.fewer, self.more = QPushButton("\u2212"), QPushButton("+")
        for button, steps in ((self.fewer, -1), (self.more, 1)):
            button.setProperty("role", "step")
            button.clicked.connect(lambda _checked=False, steps=steps: self._step(steps))
        self.price = label("big")
        self.uses = label("muted")
        self.start = QPushButton()
        self.start.setProperty("role", "primary")
        self.status = StatusLine()
        minutes_row = QHBoxLayout()
        minutes_row.addWidget(self.fewer)
        minutes_row.addWidget(self.minutes, 1)
        minutes_row.addWidget(self.more)
        minutes_row.addWidget(self.unit)
        self.minutes_row = QWidget()
        self.minutes_row.setLayout(minutes_row)
        minutes_row.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(self.heading)
        layout.addWidget(self.packages, 1)
        for widget in (
            self.hint,
            self.per_minute,
            self.minutes_row,
            self.price,
            self.uses,
            self.start,
        ):
            layout.addWidget(widget)
        layout.addWidget(self.status)
        self.packages.itemSelectionChanged.connect(self._package_chosen)
        self.per_minute.clicked.connect(self._per_minute_chosen)
        self.minutes.textEdited.connect(self._per_minute_chosen)
        self.start.clicked.connect(self._start)

    def show_view(self, view: View) -> None:
        self._view = view
        language, buying = view.language, view.mode is Mode.SIGNED_IN
        if not buying and self._choice is not None:
            self._forget()
        self.heading.setText(texts.text(language, "packages"))
        self._list(view)
        self.packages.setSelectionMode(
            QAbstractItemView.SelectionMode.SingleSelection
            if buying
            else QAbstractItemView.SelectionMode.NoSelection
        )
        self.hint.setText(texts.text(language, "choose" if buying else "sign_in_to_buy"))
        self.per_minute.setText(texts.text(language, "per_minute"))
        self.minutes.setPlaceholderText(texts.text(language, "as_long_as_balance"))
        self.unit.setText(texts.text(language, "mins"))
        self.start.setText(texts.text(language, "start"))
        self.per_minute.setVisible(buying)
        self.minutes_row.setVisible(buying)
        self.start.setVisible(buying)
        self.start.setEnabled(self._preview is not None)
        self._show_preview()
        self.status.set_language(language)

    def _list(self, view: View) -> None:
        """The packages, rebuilt only when they (or their words) change: a rebuild would
        drop the customer's selection."""
        screen = view.screen
        shown = (view.language, screen.currency, tuple(screen.packages)) if screen else ()
        if shown == self._shown:
            return
        self._shown = shown
        self.packages.clear()
        if screen is None or not screen.packages:
            empty = QListWidgetItem(texts.text(view.language, "no_packages"))
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.packages.addItem(empty)
            return
        for offer in screen.packages:
            self.packages.addItem(self._item(offer, screen.currency, view.language))

    @staticmethod
    def _item(offer: PackageOffer, currency: str, language: str) -> QListWidgetItem:
        line = (
            f"{offer.name}  ·  {texts.duration(offer.seconds, language)}"
            f"  ·  {texts.money(offer.price, currency, language)}"
        )
        if not offer.available:
            line += f"  ({texts.text(language, 'unavailable')})"
        item = QListWidgetItem(line)
        item.setData(Qt.ItemDataRole.UserRole, offer.name)
        if not offer.available:
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
        return item

    def _package_chosen(self) -> None:
        selected = self.packages.selectedItems()
        if not selected:
            return
        self.per_minute.setChecked(False)
        self._choose((selected[0].data(Qt.ItemDataRole.UserRole), None))

    def _per_minute_chosen(self) -> None:
        self.per_minute.setChecked(True)
        self.packages.clearSelection()
        self._choose((None, self._minutes() or None))

    def _minutes(self) -> int:
        return int(self.minutes.text() or 0)

    def _step(self, steps: int) -> None:
        """The minus and plus beside the minutes: a quarter of an hour less or more."""
        minutes = min(max(self._minutes() + steps * MINUTES_STEP, 0), MAX_MINUTES)
        self.minutes.setText(str(minutes) if minutes else "")
        self._per_minute_chosen()

    def _choose(self, choice: Choice) -> None:
        """Ask the price of `choice`; "Start" waits for it."""
        self._choice, self._preview = choice, None
        self.start.setEnabled(False)
        self.status.say("pricing")
        self._show_preview()
        package, minutes = choice
        self._requests.follow(
            self._controller.preview(package=package, minutes=minutes),
            lambda preview: self._priced(choice, preview),
            self.status.fail,
        )

    def _priced(self, choice: Choice, preview: Preview) -> None:
        if choice != self._choice:
            return  # the customer has chosen something else since
        self._preview = preview
        self.status.clear()
        self.start.setEnabled(True)
        self._show_preview()

    def _show_preview(self) -> None:
        preview, language = self._preview, self._view.language
        self.price.setVisible(preview is not None)
        self.uses.setVisible(preview is not None)
        if preview is None:
            return
        currency = self._view.screen.currency if self._view.screen else ""
        price = texts.money(preview.price, currency, language)
        play = texts.duration(preview.seconds, language)
        self.price.setText(texts.text(language, "preview", time=play, price=price))
        lines = [
            texts.text(
                language,
                "balance_after",
                balance=texts.money(preview.balance_after, currency, language),
            )
        ]
        if preview.time_bank_seconds or preview.package_seconds:
            lines.append(
                texts.text(
                    language,
                    "preview_uses",
                    bank=texts.clock(preview.time_bank_seconds),
                    packages=texts.clock(preview.package_seconds),
                )
            )
        self.uses.setText("\n".join(lines))

    def _start(self) -> None:
        if self._choice is None or self._preview is None:
            return
        package, minutes = self._choice
        self.start.setEnabled(False)
        self.status.say("starting")
        self._requests.follow(
            self._controller.start(package=package, minutes=minutes),
            lambda _started: None,  # the screen unlocks once the core has the lease
            self._start_failed,
        )

    def _start_failed(self, failure: BaseException) -> None:
        self.status.fail(failure)
        self.start.setEnabled(True)

    def _forget(self) -> None:
        self._choice, self._preview = None, None
        self.packages.clearSelection()
        self.per_minute.setChecked(False)
        self.minutes.clear()
        self.status.clear()
