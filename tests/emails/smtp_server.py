"""A real SMTP server on loopback (aiosmtpd) that keeps what it is sent, for the receipt
e-mail tests: it can ask for a user and password, and refuse recipients."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.live import free_socket

USER = "kassa"
PASSWORD = "s3cret-smtp-pass"


class Inbox:
    """What the server took: each message with its envelope's recipients."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refused: set[str] = set()
        self.signed_in: list[str] = []

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"].addresses[0].addr_spec == address]

    # aiosmtpd calls its hooks handle_<VERB>.
    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refused:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        good = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        if good:
            self.signed_in.append(USER)
        return AuthResult(success=good)


@contextmanager
def smtp_server() -> Iterator[tuple[Inbox, str]]:
    """An SMTP server on 127.0.0.1 that wants `USER` and `PASSWORD` (without TLS, as only
    loopback allows), and the `KASSA_SMTP_URL` for it."""
    with free_socket() as sock:
        port = int(sock.getsockname()[1])
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        # AUTH offered without TLS, as only loopback allows; `handle_MAIL` insists on it
        # (aiosmtpd's own auth_required warns without TLS, and warnings fail the tests).
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield inbox, f"smtp://{USER}:{PASSWORD}@127.0.0.1:{port}"
    finally:
        controller.stop()
