"""The files providers ask a merchant's site to serve at its root (`Provider.public_files`:
1Plat's `/1plat.txt`), with the text the shops' provider accounts set for them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from kassa.services.providers.public_files import public_file, public_paths
from kassa.web.deps import ContextDep

router = APIRouter(include_in_schema=False)


async def serve(request: Request, ctx: ContextDep) -> Response:
    """The file's text, or 404 while no enabled account sets it."""
    text = await public_file(ctx, request.url.path)
    if text is None:
        return PlainTextResponse("Not Found\n", 404)
    return PlainTextResponse(text, headers={"cache-control": "no-store"})


for _path in public_paths():
    router.add_api_route(_path, serve, methods=["GET"], response_class=PlainTextResponse)
