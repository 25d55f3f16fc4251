"""What the windows share: a request's future carried back to Qt's thread, the windows that
refuse to close, and the rounded card the lock screen is made of."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from kassa.clubagent.ui import texts

T = TypeVar("T")


class Requests(QObject):
    """Runs a request's callbacks on Qt's thread: the core completes futures on its own."""

    _done = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._done.connect(self._deliver)

    def follow(
        self,
        future: Future[T],
        ok: Callable[[T], None],
        failed: Callable[[BaseException], None],
    ) -> None:
        """Call `ok` with the result, or `failed` with the exception, once `future` is done."""
        future.add_done_callback(lambda done: self._done.emit((done, ok, failed)))

    @staticmethod
    def _deliver(payload: tuple[Future[Any], Callable[[Any], None], Callable[..., None]]) -> None:
        future, ok, failed = payload
        failure = future.exception()
        if failure is None:
            ok(future.result())
        else:
            failed(failure)


class PinnedWindow(QWidget):
    """A top-level window the customer cannot close: only the agent's own quit may."""

    def __init__(self, flags: Qt.WindowType) -> None:
        super().__init__(None, flags)
        self.may_close = False

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.may_close:
            event.accept()
        else:
            event.ignore()


def card(*widgets: QWidget, spacing: int = 10) -> QFrame:
    """A rounded panel holding `widgets` one under the other."""
    frame = QFrame()
    frame.setObjectName("card")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(22, 20, 22, 20)
    layout.setSpacing(spacing)
    for widget in widgets:
        layout.addWidget(widget)
    return frame


def label(name: str = "", *, wrap: bool = True) -> QLabel:
    """A label styled by `name` (theme's object names), wrapping its words by default."""
    made = QLabel()
    if name:
        made.setObjectName(name)
    made.setWordWrap(wrap)
    return made


def restyle(widget: QWidget, name: str) -> None:
    """Give `widget` the theme's look for `name` now (a style sheet reads names once)."""
    if widget.objectName() != name:
        widget.setObjectName(name)
        widget.style().unpolish(widget)
        widget.style().polish(widget)


class StatusLine(QLabel):
    """A line saying how a request went, kept as what to say so it follows the language."""

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)
        self._language = texts.DEFAULT_LANGUAGE
        self._failure: BaseException | None = None
        self._key: str | None = None
        self._values: dict[str, object] = {}
        self.hide()

    def say(self, key: str, **values: object) -> None:
        """Say `key` (muted: progress, a hint), replacing any error."""
        self._failure, self._key, self._values = None, key, values
        self._show()

    def fail(self, failure: BaseException) -> None:
        """Say what went wrong, in words (`texts.error`)."""
        self._failure, self._key, self._values = failure, None, {}
        self._show()

    def clear(self) -> None:
        self._failure, self._key = None, None
        self.hide()

    def set_language(self, language: str) -> None:
        self._language = language
        if self._failure is not None or self._key is not None:
            self._show()

    def _show(self) -> None:
        if self._failure is not None:
            restyle(self, "error")
            self.setText(texts.error(self._language, self._failure))
        elif self._key is not None:
            restyle(self, "muted")
            self.setText(texts.text(self._language, self._key, **self._values))
        self.show()
