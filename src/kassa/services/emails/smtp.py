"""Handing one message to the SMTP server of `KASSA_SMTP_URL` (aiosmtplib). Certificates are
verified; the password is only ever given to the server."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from kassa.config import SmtpServer

#: Seconds to wait for the SMTP server at each step (connect, each command, the message).
TIMEOUT = 30.0


class SendFailed(Exception):
    """The server did not take the message. `permanent` when sending it again cannot help:
    the server refused the recipient or the message itself for good (a 5xx answer to RCPT or
    DATA). Anything else (no connection, a refused sign-in or sender, a 4xx) may be a matter
    of the hub's settings or a passing fault, and is worth another try later."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


async def send(server: SmtpServer, message: EmailMessage) -> None:
    """Send `message` (its From and To headers say who to whom) through `server`."""
    try:
        await aiosmtplib.send(
            message,
            hostname=server.host,
            port=server.port,
            username=server.username,
            password=server.password,
            use_tls=server.security == "tls",
            # None: STARTTLS if the server offers it.
            start_tls={"tls": False, "starttls": True, "auto": None}[server.security],
            timeout=TIMEOUT,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [refused.code for refused in exc.recipients]
        answers = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        raise SendFailed(
            f"the server refused the recipient: {answers}",
            permanent=all(code >= 500 for code in codes),
        ) from exc
    except aiosmtplib.SMTPDataError as exc:
        raise SendFailed(
            f"the server refused the message: {exc.code} {exc.message}", permanent=exc.code >= 500
        ) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise SendFailed(f"the server answered {exc.code} {exc.message}", permanent=False) from exc
    except ValueError as exc:  # aiosmtplib's word on a message it cannot send as it is
        raise SendFailed(f"the message cannot be sent: {exc}", permanent=True) from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise SendFailed(
            f"could not reach the server {server.host}:{server.port}: {exc}", permanent=False
        ) from exc
