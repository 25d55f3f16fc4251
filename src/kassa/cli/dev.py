"""`kassa dev`: local stand-ins for trying Kassa without real hardware."""

from __future__ import annotations

from typing import Annotated

import typer

from kassa.devtools.fake_gateway import Mode

app = typer.Typer(
    help="Development tools: fakes of a kiosk's local services.", no_args_is_help=True
)


@app.command("fake-gateway")
def fake_gateway(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8011,
    mode: Annotated[
        Mode,
        typer.Option(
            help="approve, decline, slow (answers after --delay seconds) or flaky (cycles: "
            "dropped connection, HTTP 503, HTML instead of JSON, approval)."
        ),
    ] = Mode.APPROVE,
    delay: Annotated[float, typer.Option(help="Seconds a slow payment takes.")] = 40.0,
) -> None:
    """Serve a fake card gateway (POST /api/v1/dcpayment/payment), fiscal printer
    (/api/v1/fiscal) and kitchen display (/api/v1/kds); GET /calls and /charges show what it
    was sent. Route the agent's `payment` to http://HOST:PORT/api/v1/dcpayment/payment."""
    import uvicorn

    from kassa.devtools.fake_gateway import create_app

    uvicorn.run(create_app(mode, delay), host=host, port=port, log_level="info")
