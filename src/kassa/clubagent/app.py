"""The UI process (`python -m kassa.clubagent.app`, or `kassa club-agent --ui-only`): the core in
its thread, the windows on Qt's main thread, and the PC's hardening following the screen
(applied while locked, restored while a session plays and when the process ends). The watchdog
starts this process and starts it again if it dies.

SIGTERM, SIGINT and Windows' CTRL_BREAK end it cleanly with code 0 (the watchdog's way of
stopping it); so does "Quit the agent" on the staff panel.
"""

from __future__ import annotations

import logging
import signal
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from kassa.agentkit.agent import EXIT_CONFIG
from kassa.agentkit.logs import configure_logging
from kassa.agentkit.settings import ConfigError
from kassa.clubagent import hardening
from kassa.clubagent.config import NAME, load_config
from kassa.clubagent.controller import CoreThread
from kassa.clubagent.model import Mode, View
from kassa.clubagent.ui import run_ui

log = logging.getLogger(__name__)

#: The screens during which the PC is locked down.
LOCKED = frozenset({Mode.LOCKED, Mode.SIGNED_IN})


def follow(view: View) -> None:
    """Harden the PC while it is locked; give the desktop back while it is in use."""
    if view.mode in LOCKED:
        hardening.apply()
    else:
        hardening.restore()


def _stop_on_signals(app: QApplication) -> QTimer:
    """End the event loop on a stop signal. Python sees a signal only when the interpreter
    runs, so a timer wakes it; `exit`, not `quit`, since the lock screen refuses to close."""
    ticks = QTimer()
    ticks.timeout.connect(lambda: None)
    ticks.start(200)
    for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
        signum = getattr(signal, name, None)
        if signum is not None:
            signal.signal(signum, lambda *_: app.exit(0))
    return ticks


def main() -> int:
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201 - before logging exists
        return EXIT_CONFIG
    configure_logging(config.log_dir, config.log_level, prefix=NAME)
    # The windows' class and the untitled session bar's name on X11 (else the script's name).
    QApplication.setApplicationName(NAME)
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    ticks = _stop_on_signals(app)
    core = CoreThread(config)
    core.open()
    core.subscribe(follow)
    try:
        return run_ui(core)
    finally:
        ticks.stop()
        core.close()
        hardening.restore()
        log.info("the UI process exits")


if __name__ == "__main__":
    sys.exit(main())
