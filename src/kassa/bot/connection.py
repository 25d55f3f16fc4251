"""An aiogram `Bot` for a shop's bot: its token, and where its calls go.

Telegram's test environment (a bot made with the test environment's @BotFather, whose Stars
cost nothing) is reached at `/bot<token>/test/<method>` of the same server; a local
`telegram-bot-api` server or the tests' emulator is given by `KASSA_TELEGRAM_API_URL`.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

#: Seconds a call may take beyond a long poll's own wait.
REQUEST_TIMEOUT = 30


def server(api_url: str, *, test: bool) -> TelegramAPIServer:
    base = api_url.rstrip("/")
    environment = "/test" if test else ""
    return TelegramAPIServer(
        base=f"{base}/bot{{token}}{environment}/{{method}}",
        file=f"{base}/file/bot{{token}}{environment}/{{path}}",
    )


def open_bot(token: str, *, api_url: str, test_server: bool) -> Bot:
    """A `Bot` for `token`; close its session (`await bot.session.close()`) when done."""
    session = AiohttpSession(api=server(api_url, test=test_server), timeout=REQUEST_TIMEOUT)
    return Bot(token, session=session)
