"""`/healthz` (the process is up), `/readyz` (the database answers and is migrated), `/metrics`."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from kassa.services.operations.background import ElectedLoop
from kassa.services.operations.readiness import schema_revision
from kassa.web.deps import ContextDep
from kassa.web.metrics import Metrics

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness")
async def healthz(request: Request) -> dict[str, str | int | bool]:
    """The process answers. Also which process answered (`kassa serve --workers N` runs
    several behind one port) and whether it runs the background loop now."""
    background: ElectedLoop | None = request.app.state.background
    return {
        "status": "ok",
        "pid": os.getpid(),
        "background": background is not None and background.running,
    }


@router.get("/readyz", summary="Readiness: the database answers and has the current schema")
async def readyz(request: Request, ctx: ContextDep) -> JSONResponse:
    expected: str = request.app.state.schema_head
    try:
        current = await schema_revision(ctx)
    except Exception:
        return JSONResponse({"status": "unavailable", "reason": "database unreachable"}, 503)
    if current != expected:
        reason = f"schema is at {current}, Kassa expects {expected}: run `kassa migrate`"
        return JSONResponse({"status": "unavailable", "reason": reason}, 503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request, ctx: ContextDep) -> Response:
    found: Metrics = request.app.state.metrics
    await found.refresh_vitals(ctx)
    return Response(found.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
