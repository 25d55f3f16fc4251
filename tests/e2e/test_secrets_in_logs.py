"""No secret in any line `kassa serve` logs: a field kiosk's token sent as `?token=` (the
older agents' way) is written out with its value redacted, in the access lines too."""

from __future__ import annotations

import asyncio
import re
import secrets
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from kassa.cli import app
from tests.live import serve_process


@pytest.mark.slow
def test_a_kiosk_token_in_the_url_never_reaches_the_log(tmp_path: Path) -> None:
    with serve_process(tmp_path, "--demo") as served:
        cli = CliRunner(env={"KASSA_DATA_DIR": str(tmp_path), "KASSA_DATABASE_URL": None})
        added = cli.invoke(app, ["terminals", "add", "demo", "KIOSK_LOG"], catch_exceptions=False)
        token = added.stdout.strip()
        forged = token[:-8] + secrets.token_urlsafe(6)
        ws = served.base.replace("http://", "ws://")

        async def old_agents() -> None:
            async with connect(f"{ws}/ws?token={token}") as kiosk:
                await kiosk.ping()
            with pytest.raises(InvalidStatus):
                await connect(f"{ws}/ws?token={forged}")
            with pytest.raises(InvalidStatus):
                await connect(f"{ws}/ws/KIOSK_LOG?kiosk=1&token={forged}")

        asyncio.run(old_agents())
        httpx.get(
            f"{served.base}/healthz", params={"token": token, "api_key": "sk_test_NotInTheLog"}
        )
    text = served.text
    assert token not in text
    assert forged not in text
    assert "sk_test_NotInTheLog" not in text
    # The lines are still there, with the path and the parameter's name.
    assert re.search(r'"WebSocket /ws\?token=\[redacted\]" \[accepted\]', text), text
    assert re.search(r'"WebSocket /ws\?token=\[redacted\]" 403', text), text
    assert "/ws/KIOSK_LOG?kiosk=1&token=[redacted]" in text
    assert re.search(r'"GET /healthz\?token=\[redacted\]&api_key=\[redacted\] HTTP/1.1" 200', text)
