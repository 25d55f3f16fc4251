"""The FastAPI application: middleware, error handlers, routers, and the lifespan that opens
the database and runs the background loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from kassa import __version__
from kassa.config import Settings
from kassa.services.context import Context
from kassa.services.events import consumers
from kassa.services.gateways import Gateways
from kassa.services.operations.background import ElectedLoop
from kassa.services.payments import sandbox_api
from kassa.store.migrate import alembic_config
from kassa.web import admin, apidocs, club_link, errors, terminals
from kassa.web.metrics import Metrics
from kassa.web.middleware import BodyLimit, RejectNul, RequestMetrics, SecurityHeaders
from kassa.web.ratelimit import RateLimiter
from kassa.web.routes import (
    analytics,
    bot,
    club_legacy,
    events,
    health,
    hooks,
    pay,
    payments,
    providers,
    public_files,
    refunds,
    sandbox,
    telegram,
    webhook_endpoints,
)
from kassa.web.routes import club as club_routes
from kassa.web.routes import club_pc as club_pc_routes
from kassa.web.routes import club_sessions as club_session_routes
from kassa.web.routes import terminals as terminal_routes
from kassa.web.templating import Pages

STATIC = Path(__file__).resolve().parent / "static"
#: The icon changes only with a release: browsers may keep it a day.
ICON_CACHE = {"Cache-Control": "public, max-age=86400"}

DESCRIPTION = """\
One API in front of many payment providers. Authenticate with `Authorization: Bearer <API key>`;
amounts are integers in the currency's minor units (150000 RUB = 1 500.00 ₽); every POST accepts
an `Idempotency-Key`; errors are `{"error": {"code", "message", "param"}}`.
"""


#: The garbage collector's threshold for its youngest generation once the app has started
#: (Python's default: 700 allocations). A collection finds only reference cycles, which a
#: request hardly leaves (the rest is freed as soon as it is unused), yet it walks every young
#: object: with the default, a notification paid about a fifth of its CPU for collections
#: (`bench/ingest.py`: 0.335-0.365 ms against 0.265-0.285 ms). The older generations keep
#: their thresholds, so a full collection still comes after 100 young ones.
GC_YOUNG_THRESHOLD = 20_000


def _collect_less_often() -> None:
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, oldest)


def _freeze_startup_objects() -> None:
    """Move everything alive once the app has started (modules, routes, models, SQLAlchemy's
    tables: about 150,000 objects) out of the garbage collector's sight. They live as long as
    the process, and scanning them made each full collection a pause of about 100 ms, which
    was every slow request of `bench/ingest.py` (its p99). Garbage is collected first, so
    none of it is kept."""
    gc.collect()
    gc.freeze()


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(RejectNul)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)
    if settings.trusted_proxies:
        # Outermost, so everything after it sees the payer's or provider's address.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Kassa's web application. The database opens when the app starts (its lifespan)."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.background:
            consumers.load(settings.consumers)  # a bad KASSA_CONSUMERS stops the start
        gateways = Gateways(
            settings,
            hub_transport=httpx.ASGITransport(app=app),
            sandbox_api=sandbox_api.in_process(lambda: ctx),
        )
        ctx = Context.open(settings, gateways=gateways)
        app.state.ctx = ctx
        stop = asyncio.Event()
        # The background loop, in one of the processes serving this database at a time; the
        # terminal hub below runs in every one, for the agents connected to it.
        background = ElectedLoop(ctx) if settings.background else None
        app.state.background = background
        loop_task = asyncio.create_task(background.run(stop)) if background is not None else None
        try:
            async with terminals.running_hub(app, ctx), club_link.running_floor(app, ctx):
                _freeze_startup_objects()
                _collect_less_often()
                yield
        finally:
            stop.set()
            if loop_task is not None:
                await loop_task
            await telegram.close(app)
            await ctx.close()

    app = FastAPI(
        title="Kassa",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.background = None  # the lifespan's `ElectedLoop`, when it runs one
    app.state.metrics = Metrics()
    app.state.limiter = RateLimiter(rate=settings.api_rate_limit, burst=settings.api_rate_burst)
    limit = settings.rejected_notification_limit
    app.state.rejected_notifications = RateLimiter(rate=limit / 60, burst=limit)
    app.state.pages = Pages()
    app.state.schema_head = ScriptDirectory.from_config(alembic_config("")).get_current_head()

    _add_middleware(app, settings)
    errors.install(app)

    # FastAPI tries the routes in this order, and each router passed costs tens of
    # microseconds: provider notifications, the busiest traffic, come first, as plain ASGI
    # routes (`kassa.web.routes.hooks`, `bench/ingest.py`).
    hooks.install(app)
    for module in (
        payments,
        refunds,
        events,
        analytics,
        webhook_endpoints,
        terminal_routes,
        club_routes,
        club_session_routes,
        club_pc_routes,
        providers,
        bot,
        health,
        pay,
        public_files,
        telegram,
    ):
        app.include_router(module.router)
    club_legacy.install(app)
    sandbox.install(app)
    terminals.install(app)
    app.include_router(club_link.router)
    admin.install(app)
    app.include_router(apidocs.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/docs")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        """Where browsers look for a site's icon by themselves (a copy of the static one)."""
        return FileResponse(STATIC / "favicon.ico", media_type="image/x-icon", headers=ICON_CACHE)

    return app
