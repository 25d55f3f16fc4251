"""The `terminal` provider's side: a shop's own kiosk, reached through its agent over Kassa's
terminal protocol (docs/terminal-protocol.md), played by a scripted agent on a real WebSocket.

The mapping: the provider's "notification" is the agent's `result` for the payment's
operation (the card gateway's answer), proved by the terminal's token, which only the shop's
own agent holds; the hub's `ack` to it is the provider's "taken". Kassa cannot ask a card
gateway about a payment (`fetch`): when a result is lost, the hub asks the agent instead
(`status_query`), which answers from its journal. The terminal provider declares no two-stage
payments, cancels or refunds, and creating a payment calls no API (it is queued for the
agent), so the scenarios about those, and about an API outage, do not apply to it.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, replace
from typing import Any

from kassa.providers.terminal import TerminalProvider
from tests.conformance.drivers.base import Account, Driver, Reply
from tests.terminals.kiosk import KioskShop, ScriptedAgent, make_kiosk_shop


@dataclass(frozen=True)
class TerminalAccount(Account):
    kiosk: KioskShop


@dataclass(frozen=True)
class TerminalNotice:
    """A `result` message, and the token of the agent that sends it."""

    token: str
    request_id: str
    data: dict[str, Any]


class TerminalDriver(Driver[TerminalAccount, TerminalNotice]):
    provider = TerminalProvider
    creates_at_provider = False
    #: The result settles the payment as the provider's notification would.
    found_by = "provider"

    def connect(self) -> TerminalAccount:
        kiosk = make_kiosk_shop(self.server)
        return TerminalAccount(kiosk.shop.name, kiosk.key, kiosk)

    def payment_fields(self, account: TerminalAccount) -> dict[str, Any]:
        return {"provider": "terminal", "terminal": account.kiosk.terminal_id}

    def pay(self, account: TerminalAccount, payment: dict[str, Any]) -> None:
        (reply,) = self.send(account, self.pay_silently(account, payment))
        assert reply.taken, reply.raw

    def pay_silently(self, account: TerminalAccount, payment: dict[str, Any]) -> TerminalNotice:
        request_id = asyncio.run(self._accept(account, payment))
        return self._result(account, request_id, payment, status="SUCCESS", code="00")

    def decline(self, account: TerminalAccount, payment: dict[str, Any]) -> None:
        request_id = asyncio.run(self._accept(account, payment))
        declined = self._result(account, request_id, payment, status="DECLINED", code="05")
        (reply,) = self.send(account, declined)
        assert reply.taken, reply.raw

    def send(
        self, account: TerminalAccount, notice: TerminalNotice, *, copies: int = 1
    ) -> list[Reply]:
        """One connection, the result `copies` times over it (an agent sends again what was
        not acknowledged, one message at a time)."""

        async def deliver() -> list[Reply]:
            agent = await ScriptedAgent.connect(self.server, notice.token)
            try:
                replies = []
                for _ in range(copies):
                    await agent.send("result", notice.data)
                    replies.append(await _answer(agent, notice.request_id))
                return replies
            finally:
                await agent.close()

        return asyncio.run(deliver())

    def forge(self, account: TerminalAccount, notice: TerminalNotice) -> TerminalNotice:
        """The same result, from the agent of another shop's terminal of the same id."""
        return replace(notice, token=make_kiosk_shop(self.server).token)

    def find_lost(
        self, account: TerminalAccount, payment: dict[str, Any], notice: TerminalNotice
    ) -> None:
        """The agent reconnects; the hub asks about the operation it acknowledged, and the
        agent answers with the result from its journal."""

        async def answer_the_query() -> Reply:
            agent = await ScriptedAgent.connect(self.server, notice.token)
            try:
                query = await agent.receive("status_query")
                assert query == {"request_id": notice.request_id}
                await agent.send("result", notice.data)
                return await _answer(agent, notice.request_id)
            finally:
                await agent.close()

        reply = asyncio.run(answer_the_query())
        assert reply.taken, reply.raw

    async def _accept(self, account: TerminalAccount, payment: dict[str, Any]) -> str:
        """The agent takes the payment's operation and journals it (`ack`); its request id."""
        agent = await ScriptedAgent.connect(self.server, account.kiosk.token)
        try:
            operation = await agent.receive("operation")
            assert operation["body"]["order_id"] == payment["id"], operation
            await agent.send("ack", {"request_id": operation["request_id"]})
            await _answer(agent, operation["request_id"])
            request_id: str = operation["request_id"]
            return request_id
        finally:
            await agent.close()

    @staticmethod
    def _result(
        account: TerminalAccount,
        request_id: str,
        payment: dict[str, Any],
        *,
        status: str,
        code: str,
    ) -> TerminalNotice:
        """The card gateway's answer (kiosk-protocols.md), as the agent reports it."""
        body = {
            "payment_id": f"gw-{secrets.token_hex(6)}",
            "order_id": payment["id"],
            "session_id": f"{payment['id']}-1",
            "status": status,
            "auth_code": "123456",
            "rrn": "433012345678",
            "response_code": code,
            "response_message": "Approved" if status == "SUCCESS" else "Declined",
            "amount": payment["amount"],
            "currency_code": "643",
        }
        data = {"request_id": request_id, "ok": True, "body": body}
        return TerminalNotice(account.kiosk.token, request_id, data)


async def _answer(agent: ScriptedAgent, request_id: str) -> Reply:
    """Whether the hub acknowledged `request_id` in answer to what was just sent. The hub
    handles a connection's messages in order: once it answers a malformed frame sent after
    them, it has handled them all."""
    await agent.ws.send("not json")
    seen = []
    while (message := await _next(agent))["type"] != "error":
        seen.append(message)
    taken = {"type": "ack", "data": {"request_id": request_id}} in seen
    return Reply(taken, seen)


async def _next(agent: ScriptedAgent) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(agent.ws.recv(), 10))
    return message
