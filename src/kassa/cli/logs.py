"""The processes' logging: one handler on the root logger, which every record passes (Kassa's,
uvicorn's access and error lines, httpx's, websockets'), with a filter that takes secrets out.

Secrets reach log lines through URLs above all: the field's older kiosk agents send their
one-year terminal token as `?token=…` in the WebSocket URL, and uvicorn logs every request's
path with its query string; an outbound call's URL (logged by httpx) may carry a key, and a
database URL a password. The filter rewrites each record before any handler formats it, so
no formatter, handler or log level can let one through.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from kassa.config import Settings

REDACTED = "[redacted]"

#: Query parameters whose names contain one of these words carry secrets (`token`,
#: `access_token`, `key`, `api_key`, `secret`, `signature`, `sign`, `password` …). Too many
#: are hidden rather than one too few: a log needs the path, not these values.
SECRET_WORDS = ("token", "key", "secret", "sign", "password", "passwd", "auth", "session")

_QUERY_SECRET = re.compile(
    r"""([?&;][^=&;\s"'#?]*(?:""" + "|".join(SECRET_WORDS) + r""")[^=&;\s"'#?]*=)[^&;\s"'#]*""",
    re.IGNORECASE,
)
#: `scheme://user:password@host`
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE)
#: `Authorization: Bearer …` quoted in a message.
_BEARER = re.compile(r"(\bbearer\s+)[\w.~+/=-]+", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with the values of secret-bearing query parameters, URL passwords and bearer
    credentials replaced by `[redacted]`."""
    text = _QUERY_SECRET.sub(r"\1" + REDACTED, text)
    text = _URL_PASSWORD.sub(r"\1" + REDACTED + "@", text)
    return _BEARER.sub(r"\1" + REDACTED, text)


def _redacted(value: Any) -> Any:
    """A log argument with its secrets taken out: strings, and objects whose text has a
    secret (httpx logs `URL` objects), become redacted text; numbers stay numbers, since
    formatters such as uvicorn's access formatter format them as numbers."""
    if value is None or isinstance(value, int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    clean = redact(text)
    return value if clean == text else clean


class RedactSecrets(logging.Filter):
    """Takes secrets out of every record it sees (see `redact`): out of its message, its
    arguments one by one (so formatters that read `record.args`, like uvicorn's access
    formatter, still work), and its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message: str | None = record.getMessage()
        except (TypeError, ValueError):
            message = None  # a malformed call, which the handler reports with msg and args
        if message is None or redact(message) != message:
            self._redact_parts(record)
            if message is not None and _message_of(record) != redact(message):
                # A secret split over the format and its arguments: only the text is kept.
                record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True

    @staticmethod
    def _redact_parts(record: logging.LogRecord) -> None:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {name: _redacted(value) for name, value in record.args.items()}
        elif record.args:
            record.args = tuple(_redacted(value) for value in record.args)


def _message_of(record: logging.LogRecord) -> str | None:
    try:
        return record.getMessage()
    except (TypeError, ValueError):
        return None


def configure_logging(settings: Settings) -> None:
    """Log to stderr at `KASSA_LOG_LEVEL`, each line with its time, level and logger, every
    line through `RedactSecrets`. `kassa serve` leaves uvicorn's loggers unconfigured
    (`log_config=None`), so its access and error lines come here too."""
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())
