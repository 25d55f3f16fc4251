"""An agent's logging: the console (journald under systemd) and a file per day,
`<prefix>-YYYYMMDD.log` in the log directory (`kassa-agent-…` for the kiosk agent, as the
field proxy did)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class DailyFileHandler(logging.StreamHandler[TextIO]):
    """Appends to the file named after the local date of each record, switching at midnight."""

    def __init__(self, directory: Path, prefix: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.prefix = prefix
        self.day = ""
        super().__init__(self._open(time.localtime()))

    def path_for(self, when: time.struct_time) -> Path:
        return self.directory / f"{self.prefix}-{time.strftime('%Y%m%d', when)}.log"

    def _open(self, when: time.struct_time) -> TextIO:
        self.day = time.strftime("%Y%m%d", when)
        return self.path_for(when).open("a", encoding="utf-8")

    def emit(self, record: logging.LogRecord) -> None:
        when = time.localtime(record.created)
        if time.strftime("%Y%m%d", when) != self.day:
            self.acquire()
            try:
                previous = self.setStream(self._open(when))
                if previous is not None:
                    previous.close()
            finally:
                self.release()
        super().emit(record)

    def close(self) -> None:
        self.acquire()
        try:
            self.stream.close()
        finally:
            self.release()
        super().close()


def configure_logging(log_dir: Path, level: str, *, prefix: str) -> None:
    """Send the agent's records (and its libraries' warnings) to the console and the day's
    file. The websockets and httpx loggers stay at INFO and WARNING at most: at DEBUG
    websockets would print the handshake headers, the device's token among them."""
    formatter = logging.Formatter(FORMAT)
    console = logging.StreamHandler()
    daily = DailyFileHandler(log_dir, prefix)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in (console, daily):
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    logging.getLogger("websockets").setLevel(max(root.level, logging.INFO))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
