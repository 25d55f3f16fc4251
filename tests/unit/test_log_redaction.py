"""`kassa.cli.logs`: what the filter on the processes' log handler takes out of a line."""

from __future__ import annotations

import logging

import pytest

from kassa.cli.logs import RedactSecrets, redact


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("GET /ws?token=eyJ.a-b_c.d HTTP/1.1", "GET /ws?token=[redacted] HTTP/1.1"),
        ("/ws/K1?kiosk=K1&Token=x&y=2", "/ws/K1?kiosk=K1&Token=[redacted]&y=2"),
        (
            "/x?api_key=1&access_token=2&signature=3",
            "/x?api_key=[redacted]&access_token=[redacted]&signature=[redacted]",
        ),
        ("/x?Secret=s#frag", "/x?Secret=[redacted]#frag"),
        (
            "postgresql+asyncpg://kassa:pa55@db/kassa",
            "postgresql+asyncpg://kassa:[redacted]@db/kassa",
        ),
        ("sent Authorization: Bearer sk_live_abc", "sent Authorization: Bearer [redacted]"),
        (
            "/v1/payments?limit=10&starting_after=pay_1",
            "/v1/payments?limit=10&starting_after=pay_1",
        ),
    ],
)
def test_redact(line: str, shown: str) -> None:
    assert redact(line) == shown


def record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("GET https://x.test/?token=t0p")
        except ValueError as error:
            exc_info = (type(error), error, error.__traceback__)
    return logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, exc_info)


def test_the_filter_keeps_arguments_a_formatter_reads() -> None:
    """uvicorn's access formatter unpacks `record.args` and formats the status as a number."""
    line = record('%s - "%s %s HTTP/%s" %d', "1.2.3.4:5", "GET", "/ws?token=t0p", "1.1", 200)
    assert RedactSecrets().filter(line)
    assert line.args == ("1.2.3.4:5", "GET", "/ws?token=[redacted]", "1.1", 200)


def test_the_filter_redacts_split_secrets_and_tracebacks() -> None:
    split = record("calling %s?token=%s", "/ws", "t0p")
    RedactSecrets().filter(split)
    assert "t0p" not in split.getMessage()
    failed = record("failed", exc=True)
    RedactSecrets().filter(failed)
    assert "t0p" not in logging.Formatter().format(failed)
    assert "token=[redacted]" in logging.Formatter().format(failed)


def test_a_malformed_call_is_left_to_the_handler_redacted() -> None:
    bad = record("bad %d", "/ws?token=t0p")
    assert RedactSecrets().filter(bad)
    assert bad.args == ("/ws?token=[redacted]",)
