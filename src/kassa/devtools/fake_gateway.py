"""A fake of a kiosk's local services, for trying the agent without a card terminal.

It speaks the field gateway's contract (`POST /api/v1/dcpayment/payment`, see
docs/agent.md) plus the fiscal printer (`POST /api/v1/fiscal`) and the kitchen display
(`POST /api/v1/kds`), and remembers what it was sent: `GET /calls` lists every call to those
routes (`{path, body, at}`), `GET /charges` counts payment requests per `order_id`, so a test
can assert that each payment reached the gateway exactly once.

`GET /api/v1/dcpayment/payment/{order_id}` is a status lookup (the agent's `status_url`, see
docs/agent.md): 200 with the answer the payment got (even if that answer was lost on the way,
as in `flaky`), 202 `{"status": "IN_PROGRESS"}` while it is still being processed, 404
`{"detail": "Payment not found"}` if the order never reached the gateway. A lookup is neither a
call nor a charge. The real dcpayment gateway documents no such call: this is for demos and
tests.

Modes:

- `approve`: every valid payment succeeds (`status` SUCCESS, `response_code` "00").
- `decline`: every valid payment is declined (DECLINED, "05"); fiscal answers NOT_OK.
- `slow`: like `approve`, after sleeping `delay` seconds (40 by default: past a 35 s route
  timeout, as a real card payment that takes too long).
- `flaky`: payments cycle through, in this order, a dropped connection (headers then nothing),
  HTTP 503, a 200 whose body is HTML rather than JSON, and a normal approval. The card is
  charged in all four cases (the worst case: the terminal acted, only the answer was lost), so
  a client that retries would charge twice, which `/charges` shows.

As on the real gateway, a repeated `order_id` is refused with HTTP 500 "Payment already exists"
(and counted in `/charges`, since it is a second attempt).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send

PAYMENT_PATH = "/api/v1/dcpayment/payment"
FISCAL_PATH = "/api/v1/fiscal"
KDS_PATH = "/api/v1/kds"
KIOSK_ID = re.compile(r"^[A-Za-z0-9_-]+$")


class Mode(StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"
    SLOW = "slow"
    FLAKY = "flaky"


class Flaky(StrEnum):
    DROP = "drop"
    UNAVAILABLE = "unavailable"
    GARBAGE = "garbage"
    APPROVE = "approve"


FLAKY_CYCLE = tuple(Flaky)


@dataclass
class Record:
    """What the gateway has been sent."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    charges: Counter[str] = field(default_factory=Counter)
    paid: set[str] = field(default_factory=set)
    #: The answer each paid order got (once processing has finished).
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    flaky_count: int = 0


class _Drop(Response):
    """Starts a response and then fails, which makes the server close the connection: the
    client sees the headers of a 200 and then the connection end, without a body."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
            }
        )
        raise ConnectionAbortedError("fake gateway (flaky): connection dropped on purpose")


def create_app(mode: Mode | str = Mode.APPROVE, delay: float = 40.0) -> FastAPI:
    mode = Mode(mode)
    app = FastAPI(title=f"Kassa fake gateway ({mode})", openapi_url=None)
    record = Record()
    app.state.record = record

    async def receive(request: Request) -> Any:
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        record.calls.append({"path": request.url.path, "body": body, "at": _now().isoformat()})
        return body

    @app.post(PAYMENT_PATH)
    async def payment(request: Request) -> Response:
        body = await receive(request)
        problems = _payment_problems(body)
        if problems:
            return JSONResponse({"detail": problems}, status_code=422)
        order_id = str(body["order_id"])
        record.charges[order_id] += 1
        if order_id in record.paid:
            return JSONResponse(
                {"detail": f"Stage 1 failed: Payment already exists: order_id={order_id}"},
                status_code=500,
            )
        record.paid.add(order_id)
        if mode is Mode.SLOW:
            await asyncio.sleep(delay)
        answer = _payment_answer(body, approved=mode is not Mode.DECLINE)
        record.answers[order_id] = answer
        if mode is Mode.FLAKY:
            outcome = FLAKY_CYCLE[record.flaky_count % len(FLAKY_CYCLE)]
            record.flaky_count += 1
            if outcome is Flaky.DROP:
                return _Drop()
            if outcome is Flaky.UNAVAILABLE:
                return JSONResponse({"detail": "Service Unavailable"}, status_code=503)
            if outcome is Flaky.GARBAGE:
                return Response("<html><body>502 Bad Gateway</body></html>", media_type="text/html")
        return JSONResponse(answer)

    @app.get(PAYMENT_PATH + "/{order_id}")
    async def payment_status(order_id: str) -> Response:
        if order_id in record.answers:
            return JSONResponse(record.answers[order_id])
        if order_id in record.paid:
            return JSONResponse({"status": "IN_PROGRESS", "order_id": order_id}, status_code=202)
        return JSONResponse({"detail": "Payment not found"}, status_code=404)

    @app.post(FISCAL_PATH)
    async def fiscal(request: Request) -> Response:
        body = await receive(request)
        if not isinstance(body, dict) or "order_id" not in body:
            return JSONResponse({"detail": "order_id is required"}, status_code=422)
        if mode is Mode.DECLINE:
            return JSONResponse(
                {
                    "status": "NOT_OK",
                    "error_code": "FN_ERROR",
                    "error_message": "fiscal drive error",
                }
            )
        return JSONResponse({"status": "OK", "fiscal_receipt": _receipt(body)})

    @app.post(KDS_PATH)
    async def kds(request: Request) -> Response:
        await receive(request)
        return JSONResponse(
            {
                "status": "OK",
                "kds_ticket_id": secrets.token_hex(4),
                "received_at": _now().isoformat(),
            }
        )

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "mode": mode}

    @app.get("/calls")
    async def calls() -> list[dict[str, Any]]:
        return record.calls

    @app.get("/charges")
    async def charges() -> dict[str, int]:
        return dict(record.charges)

    return app


def _now() -> datetime:
    return datetime.now(UTC)


def _payment_problems(body: Any) -> list[dict[str, Any]]:
    """FastAPI-style validation errors for a payment request."""
    if not isinstance(body, dict):
        return [
            {"type": "model_attributes_type", "loc": ["body"], "msg": "Input should be an object"}
        ]
    problems: list[dict[str, Any]] = []
    for name in ("kiosk_id", "order_id", "sum"):
        if name not in body:
            problems.append({"type": "missing", "loc": ["body", name], "msg": "Field required"})
    kiosk_id = body.get("kiosk_id")
    if "kiosk_id" in body and not (isinstance(kiosk_id, str) and KIOSK_ID.match(kiosk_id)):
        problems.append(
            {
                "type": "string_pattern_mismatch",
                "loc": ["body", "kiosk_id"],
                "msg": f"String should match pattern '{KIOSK_ID.pattern}'",
            }
        )
    amount = body.get("sum")
    if "sum" in body and (isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0):
        problems.append(
            {"type": "int_type", "loc": ["body", "sum"], "msg": "sum must be kopecks, above 0"}
        )
    return problems


def _payment_answer(body: dict[str, Any], *, approved: bool) -> dict[str, Any]:
    now = _now()
    order_id = body["order_id"]
    amount = body["sum"]
    status = "SUCCESS" if approved else "DECLINED"
    rrn = f"{secrets.randbelow(10**12):012d}"
    return {
        "payment_id": f"dcp_{secrets.token_hex(8)}",
        "order_id": order_id,
        "session_id": f"{order_id}-{now:%Y%m%dT%H%M%SZ}",
        "status": status,
        "auth_code": f"{secrets.randbelow(10**6):06d}" if approved else "",
        "rrn": rrn,
        "transaction_id": secrets.token_hex(6).upper(),
        "terminal_id": "00012345",
        "merchant_id": "000000012345678",
        "response_code": "00" if approved else "05",
        "response_message": "APPROVED" if approved else "DO NOT HONOR",
        "amount": amount,
        "currency_code": "643",
        "payment_date": now.isoformat(),
        "completed_at": now.isoformat(),
        "receipt_available": True,
        "field_90_raw": f"<field90><rrn>{rrn}</rrn><status>{status}</status></field90>",
        "customer_receipt": _slip(body, status, rrn, "CUSTOMER COPY"),
        "merchant_receipt": _slip(body, status, rrn, "MERCHANT COPY"),
    }


def _slip(body: dict[str, Any], status: str, rrn: str, copy: str) -> str:
    rubles, kopecks = divmod(int(body["sum"]), 100)
    return (
        f"FAKE GATEWAY\n{copy}\nKIOSK {body['kiosk_id']}\nORDER {body['order_id']}\n"
        f"AMOUNT {rubles}.{kopecks:02d} RUB\nRRN {rrn}\n{status}\n"
    )


def _receipt(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "ofd_reg_number": "0000000000012345",
        "fiscal_document_number": secrets.randbelow(10**6),
        "fn_number": "9999078900012345",
        "order_id": body["order_id"],
        "issued_at": _now().isoformat(),
        "items": body.get("items", []),
        "total_net": body.get("total_net"),
        "total_vat": body.get("total_vat"),
        "total_gross": body.get("total_gross"),
        "message": "fiscal receipt issued (fake)",
    }
