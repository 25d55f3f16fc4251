"""`kassa bot` as a real process, against the Telegram emulator: what the bot tests drive.

`shop_bot` makes a shop whose bot lives in the emulator; `bot_process` runs
`python -m kassa bot [--shop …]` on the test's database, pointed at the emulator (one
process for a whole module starts each new shop's bot within seconds: `polling(shop)`
waits for it); `waiting_for` waits until the bot has sent a buyer what a test expects.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kassa.domain import Shop
from kassa.services.bot import settings as bot_settings
from tests.emulators.telegram import Bot, TelegramEmulator, User
from tests.helpers import make_shop
from tests.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]
Document = dict[str, Any]


class BotProcess:
    """A running `kassa bot` and the lines it has logged so far."""

    def __init__(self, database_url: str, api_url: str, shops: Sequence[str], **env: str) -> None:
        environment = {
            **os.environ,
            "KASSA_DATABASE_URL": database_url,
            "KASSA_TELEGRAM_API_URL": api_url,
            "KASSA_LOG_LEVEL": "info",
            "PYTHONPATH": str(ROOT),
            **env,
        }
        chosen = [argument for name in shops for argument in ("--shop", name)]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kassa", "bot", *chosen],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        self.lines.extend(self.process.stdout)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def polling(self, *shops: Shop) -> BotProcess:
        """Wait until the bots of `shops` poll Telegram (a bot configured while the process
        runs is started within seconds)."""
        for shop in shops:
            line = f"of shop {shop.id}: polling"

            def started(line: str = line) -> bool:
                return line in self.text

            # A start takes seconds (aiogram's import, the schema check), more on a busy machine.
            eventually(started, what=f"polling:\n{self.text}", timeout=60)
        return self

    def stop(self) -> int:
        """SIGTERM: the update in hand is finished first."""
        self.process.send_signal(signal.SIGTERM)
        return self.wait()

    def kill(self) -> None:
        """SIGKILL: nothing in hand is finished."""
        self.process.kill()
        self.wait()

    def wait(self, timeout: float = 30) -> int:
        code = self.process.wait(timeout)
        self._reader.join(timeout=5)
        return code


@contextmanager
def bot_process(
    database_url: str, telegram: TelegramEmulator, shops: Sequence[Shop] = (), **env: str
) -> Iterator[BotProcess]:
    """`kassa bot --shop …` for `shops` (every shop's bot, if none are named), polling;
    killed at the end if still running."""
    running = BotProcess(database_url, telegram.api_url, [shop.name for shop in shops], **env)
    try:
        yield running.polling(*shops)
    finally:
        if running.process.poll() is None:
            running.kill()


@dataclass(frozen=True)
class ShopBot:
    shop: Shop
    bot: Bot


def shop_bot(
    hub: LiveServer, telegram: TelegramEmulator, *, bot: Bot | None = None, **changes: str
) -> ShopBot:
    """A new shop (sandbox, test mode) with a bot in the emulator's test environment (a new
    one, or `bot`)."""
    bot = bot or telegram.add_bot()
    shop = make_shop(hub).shop
    settings = {"token": bot.token, "server": "test", "link_text": "Write to @support", **changes}
    hub.call(bot_settings.configure(hub.ctx, shop=shop, changes=settings))
    return ShopBot(shop, bot)


def eventually(check: Callable[[], bool], *, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.05)


def waiting_for(
    telegram: TelegramEmulator,
    bot: Bot,
    user: User,
    found: Callable[[Document], bool],
    *,
    what: str,
) -> Document:
    """The first message the bot sent `user` for which `found` is true, once there is one."""
    eventually(lambda: any(found(m) for m in telegram.sent(bot, user)), what=what)
    return next(m for m in telegram.sent(bot, user) if found(m))


def containing(text: str) -> Callable[[Document], bool]:
    return lambda message: text in message.get("text", "")


def fresh_user(telegram: TelegramEmulator, language_code: str = "en") -> User:
    return telegram.user(f"Buyer{secrets.token_hex(2)}", language_code=language_code)
