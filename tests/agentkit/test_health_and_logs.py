"""The health endpoint and the daily log file."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import httpx

from kassa.agentkit.health import HealthServer
from kassa.agentkit.logs import DailyFileHandler


def test_health_endpoint() -> None:
    async def go() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        server = HealthServer(lambda: {"status": "healthy", "in_flight": 0}, port=0)
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
                return (
                    await client.get("/health"),
                    await client.get("/other"),
                    await client.post("/health"),
                )
        finally:
            await server.close()

    health, other, post = asyncio.run(go())
    assert health.status_code == 200
    assert health.json() == {"status": "healthy", "in_flight": 0}
    assert (other.status_code, post.status_code) == (404, 405)


def test_daily_file(tmp_path: Path) -> None:
    handler = DailyFileHandler(tmp_path / "logs", "kassa-agent")
    handler.setFormatter(logging.Formatter("%(message)s"))
    try:
        record: dict[str, Any] = {"msg": "request_id=r1 done", "levelno": logging.INFO}
        today = logging.makeLogRecord(record)
        handler.emit(today)
        tomorrow = logging.makeLogRecord(
            {**record, "msg": "next day", "created": time.time() + 86_400}
        )
        handler.emit(tomorrow)
    finally:
        handler.close()
    files = sorted(path.name for path in (tmp_path / "logs").iterdir())
    assert files == [
        f"kassa-agent-{time.strftime('%Y%m%d')}.log",
        f"kassa-agent-{time.strftime('%Y%m%d', time.localtime(time.time() + 86_400))}.log",
    ]
    assert (tmp_path / "logs" / files[0]).read_text() == "request_id=r1 done\n"
