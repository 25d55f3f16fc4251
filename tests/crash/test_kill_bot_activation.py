"""The bot's activation exactly once, with real processes: a `kassa worker` runs the
`bot-activation` consumer and the provisioning job against the panel emulators, a `kassa
bot` sends the buyers' messages to the Telegram emulator, and Kassa (this process's server)
takes the payments and the provider's notifications.

1. **Killed at the panel's answer** (Marzban, and Remnawave 3.x with its version detected):
   a buyer's first purchase is activated and its link sent; the renewal's panel call is
   done by the panel, which then SIGKILLs the worker before answering, so the worker never
   commits its result. Once the lease the dead worker held has run out and a worker runs
   again, the panel's end is the renewal's absolute end (moved once, not by the days twice)
   and the buyer has one link message per purchase.
2. **Killed before the consumer's receipt commits** (`activation_plugin` ends the worker at
   that commit): nothing of the activation is left, and the next worker activates the
   purchase once.
3. **Duplicates**: the sandbox's notification of the payment sent twice, under two event
   ids, concurrently and again, and `payment.succeeded` replayed, give one extension and one
   link message.

The processes are shared by the module: one `kassa bot` throughout, and a worker started
again after each kill (starts cost seconds).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import RowMapping, select, update

from kassa.domain import new_id
from kassa.services.bot import activation, buyers, purchases
from kassa.services.bot import settings as bot_settings
from kassa.store.tables import (
    bot_messages,
    bot_provisioning,
    bot_purchases,
    bot_subscriptions,
    consumer_receipts,
    events,
)
from tests.bot.conftest import buy, ends_at, plan_id, rows, succeeded
from tests.bot.process import BotProcess, bot_process, fresh_user
from tests.crash.activation_plugin import ARMED, CRASHED
from tests.emulators import marzban as marzban_emulator
from tests.emulators import remnawave as remnawave_emulator
from tests.emulators.marzban import MarzbanEmulator
from tests.emulators.remnawave import RemnawaveEmulator
from tests.emulators.telegram import Bot, TelegramEmulator, User
from tests.helpers import ShopSetup, make_shop, paid_silently_at_the_sandbox, sandbox_notification
from tests.live import LiveServer
from tests.worker_process import Worker, eventually

pytestmark = pytest.mark.slow

PLUGIN = "tests.crash.activation_plugin:consumer"
#: What the buyer's access message says (English: the buyers here speak it).
ACCESS = "Your subscription is active until"
#: A worker's start and a round of its jobs on a machine busy with other tests.
SETTLES_WITHIN = 60.0


class Workers:
    """The module's `kassa worker`: started when a test needs one running, killed by the
    tests, started again by the next that needs it."""

    def __init__(self, database_url: str, armed: Path) -> None:
        self.database_url, self.armed = database_url, armed
        self._worker: Worker | None = None

    def running(self) -> Worker:
        if self._worker is None or not self._worker.alive:
            self._worker = Worker(self.database_url, PLUGIN, **{ARMED: str(self.armed)})
        return self._worker

    def stop(self) -> None:
        if self._worker is not None and self._worker.alive:
            self._worker.kill()


@pytest.fixture(scope="module")
def workers(own_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    running = Workers(own_database_url, tmp_path_factory.mktemp("crash") / "armed")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def bots(own_database_url: str, telegram: TelegramEmulator) -> Iterator[BotProcess]:
    """One `kassa bot` for the module: it starts each test's new bot within seconds."""
    with bot_process(own_database_url, telegram) as running:
        yield running


@pytest.fixture(scope="module")
def marzban() -> Iterator[MarzbanEmulator]:
    with marzban_emulator.running() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def remnawave() -> Iterator[RemnawaveEmulator]:
    with remnawave_emulator.running(3) as emulator:
        yield emulator


@dataclass(frozen=True)
class Customer:
    """A shop with a bot in the Telegram emulator, and a buyer of it on Telegram."""

    setup: ShopSetup
    bot: Bot
    user: User
    buyer: buyers.Buyer

    @property
    def username(self) -> str:
        """The buyer's user on the panel."""
        return f"tg_{self.user.id}"


def customer(hub: LiveServer, telegram: TelegramEmulator, **panel: str) -> Customer:
    bot = telegram.add_bot()
    setup = make_shop(hub)
    settings = {"token": bot.token, "server": "test", **panel}
    hub.call(bot_settings.configure(hub.ctx, shop=setup.shop, changes=settings))
    user = fresh_user(telegram)
    buyer = hub.call(
        buyers.register(hub.ctx, shop_id=setup.shop.id, telegram_id=user.id, language="en")
    )
    return Customer(setup, bot, user, buyer)


def on_marzban(hub: LiveServer, telegram: TelegramEmulator, marzban: MarzbanEmulator) -> Customer:
    return customer(
        hub,
        telegram,
        panel="marzban",
        panel_url=marzban.url,
        panel_user=marzban.admin,
        panel_password=marzban_emulator.PASSWORD,
    )


def marzban_end(marzban: MarzbanEmulator, username: str) -> datetime:
    return datetime.fromtimestamp(marzban.user(username)["expire"], UTC)


def remnawave_end(remnawave: RemnawaveEmulator, username: str) -> datetime:
    return remnawave_emulator.parse(remnawave.user(username)["expireAt"])


def same_moment(panel: datetime, kassa: datetime | None) -> bool:
    """The panel keeps whole seconds (Marzban) or milliseconds (Remnawave)."""
    assert kassa is not None
    return abs(panel - kassa) < timedelta(seconds=1)


def links(telegram: TelegramEmulator, who: Customer) -> list[str]:
    """The access messages the bot sent the buyer."""
    sent = telegram.sent(who.bot, who.user)
    return [message["text"] for message in sent if ACCESS in message.get("text", "")]


def all_sent(hub: LiveServer, who: Customer) -> bool:
    """Whether every message left for the buyer has been sent (nothing more is coming)."""
    left = rows(hub, bot_messages, bot_messages.c.telegram_id == who.user.id)
    return bool(left) and all(message["sent_at"] is not None for message in left)


def settled(hub: LiveServer, telegram: TelegramEmulator, who: Customer, links_: int) -> None:
    """Wait until the buyer has `links_` access messages and nothing is left to send."""
    eventually(
        lambda: len(links(telegram, who)) >= links_ and all_sent(hub, who),
        what=f"{links_} access messages",
        timeout=SETTLES_WITHIN,
    )


def activation_receipts(hub: LiveServer, event_id: str) -> Sequence[RowMapping]:
    """The `bot-activation` consumer's receipt of the event, if it has handled it."""
    receipt = consumer_receipts.c
    return rows(
        hub, consumer_receipts, receipt.event_id == event_id, receipt.consumer == activation.NAME
    )


def lapse_lease(hub: LiveServer, cause: str) -> None:
    """The lease a killed worker held on the provisioning row runs out (moved back by
    `activation.LEASE` rather than waited for)."""

    async def move() -> None:
        row = bot_provisioning.c
        async with hub.ctx.db.write() as conn:
            leased = select(row.next_attempt_at).where(row.id == cause)
            until = (await conn.execute(leased)).scalar_one()
            await conn.execute(
                update(bot_provisioning)
                .where(row.id == cause)
                .values(next_attempt_at=until - activation.LEASE)
            )

    hub.call(move())


def killed_at_the_panel_s_answer(
    hub: LiveServer,
    telegram: TelegramEmulator,
    bots: BotProcess,
    workers: Workers,
    *,
    who: Customer,
    emulator: MarzbanEmulator | RemnawaveEmulator,
    panel_end: Callable[[str], datetime],
) -> None:
    workers.running()  # starting while the bot process starts the shop's bot
    bots.polling(who.setup.shop)
    buy(hub, who.setup.shop, who.buyer)
    settled(hub, telegram, who, 1)
    first = ends_at(hub, who.buyer)
    assert first is not None
    assert same_moment(panel_end(who.username), first)

    worker = workers.running()
    emulator.on_change = worker.kill
    renewal = buy(hub, who.setup.shop, who.buyer)
    eventually(lambda: not worker.alive, what="the kill", timeout=SETTLES_WITHIN)
    renewed = first + timedelta(days=30)
    assert ends_at(hub, who.buyer) == renewed
    assert same_moment(panel_end(who.username), renewed)  # the panel did it
    (row,) = rows(hub, bot_provisioning, bot_provisioning.c.id == renewal.id)
    assert (row["status"], row["attempts"]) == ("pending", 0)  # its result never committed
    assert len(links(telegram, who)) == 1

    lapse_lease(hub, renewal.id)
    workers.running()
    settled(hub, telegram, who, 2)
    assert ends_at(hub, who.buyer) == renewed
    assert same_moment(panel_end(who.username), renewed)
    (row,) = rows(hub, bot_provisioning, bot_provisioning.c.id == renewal.id)
    assert (row["status"], row["attempts"]) == ("done", 1)
    sent = links(telegram, who)
    assert len(sent) == 2
    (bought,) = rows(hub, bot_purchases, bot_purchases.c.id == renewal.id)
    assert bought["ends_at"] == renewed


def test_a_worker_killed_at_marzban_s_answer_moves_the_end_once(
    hub: LiveServer,
    telegram: TelegramEmulator,
    bots: BotProcess,
    workers: Workers,
    marzban: MarzbanEmulator,
) -> None:
    who = on_marzban(hub, telegram, marzban)
    killed_at_the_panel_s_answer(
        hub,
        telegram,
        bots,
        workers,
        who=who,
        emulator=marzban,
        panel_end=lambda name: marzban_end(marzban, name),
    )
    assert marzban.url + marzban.user(who.username)["subscription_url"] in links(telegram, who)[1]


def test_a_worker_killed_at_remnawave_3_s_answer_moves_the_end_once(
    hub: LiveServer,
    telegram: TelegramEmulator,
    bots: BotProcess,
    workers: Workers,
    remnawave: RemnawaveEmulator,
) -> None:
    who = customer(
        hub, telegram, panel="remnawave", panel_url=remnawave.url, panel_token=remnawave.token
    )
    metadata = ("GET", "/api/system/metadata")
    asked = remnawave.paths().count(metadata)
    killed_at_the_panel_s_answer(
        hub,
        telegram,
        bots,
        workers,
        who=who,
        emulator=remnawave,
        panel_end=lambda name: remnawave_end(remnawave, name),
    )
    assert remnawave.user(who.username)["subscriptionUrl"] in links(telegram, who)[1]
    # The version was asked of the panel once, by the first worker, and kept.
    assert remnawave.paths().count(metadata) == asked + 1
    settings = hub.call(bot_settings.get(hub.ctx, shop_id=who.setup.shop.id))
    assert settings.panel_settings[bot_settings.DETECTED_VERSION] == "3"
    # Kassa never extends by days: a replay of that would add them twice.
    assert not any(path.endswith("/actions/extend") for _, path in remnawave.paths())


def test_a_worker_killed_before_the_consumer_commits_activates_once(
    hub: LiveServer,
    telegram: TelegramEmulator,
    bots: BotProcess,
    workers: Workers,
    marzban: MarzbanEmulator,
) -> None:
    who = on_marzban(hub, telegram, marzban)
    worker = workers.running()
    bots.polling(who.setup.shop)
    workers.armed.touch()
    purchase = buy(hub, who.setup.shop, who.buyer)
    assert worker.wait(timeout=SETTLES_WITHIN) == CRASHED, worker.text
    assert not workers.armed.exists()
    event = succeeded(hub, purchase.payment.id)
    (bought,) = rows(hub, bot_purchases, bot_purchases.c.id == purchase.id)
    assert bought["status"] == purchases.PENDING  # the activation was rolled back whole
    assert activation_receipts(hub, event.id) == []
    assert rows(hub, bot_subscriptions, bot_subscriptions.c.buyer_id == who.buyer.id) == []
    assert rows(hub, bot_provisioning, bot_provisioning.c.buyer_id == who.buyer.id) == []

    workers.running()
    settled(hub, telegram, who, 1)
    end = event.created_at + timedelta(days=30)
    assert ends_at(hub, who.buyer) == end
    (bought,) = rows(hub, bot_purchases, bot_purchases.c.id == purchase.id)
    assert (bought["status"], bought["ends_at"]) == (purchases.ACTIVATED, end)
    assert same_moment(marzban_end(marzban, who.username), end)
    assert len(links(telegram, who)) == 1


def test_duplicated_notifications_and_a_replayed_event_give_one_extension_and_one_link(
    hub: LiveServer,
    telegram: TelegramEmulator,
    bots: BotProcess,
    workers: Workers,
    marzban: MarzbanEmulator,
) -> None:
    who = on_marzban(hub, telegram, marzban)
    workers.running()  # starting while the bot process starts the shop's bot
    bots.polling(who.setup.shop)
    started = hub.call(
        purchases.start(
            hub.ctx,
            shop=who.setup.shop,
            buyer_id=who.buyer.id,
            plan_id=plan_id(hub, who.setup.shop),
        )
    )
    payment = {
        "id": started.payment.id,
        "provider_payment_id": started.payment.provider_payment_id,
        "amount": started.payment.amount,
        "currency": started.payment.currency,
    }
    paid_silently_at_the_sandbox(hub, payment)
    once = sandbox_notification(who.setup.secret, payment, "succeeded")
    again = sandbox_notification(who.setup.secret, payment, "succeeded")  # another event id
    answers = post(hub, who, [once, once, again, again]) + post(hub, who, [once])
    assert answers == [200] * 5
    settled(hub, telegram, who, 1)
    event = succeeded(hub, started.payment.id)  # one: `.one()` refuses two

    replay = replayed(hub, event.id)
    eventually(
        lambda: bool(activation_receipts(hub, replay)),
        what="the replay handled",
        timeout=SETTLES_WITHIN,
    )
    end = event.created_at + timedelta(days=30)
    assert ends_at(hub, who.buyer) == end
    assert len(rows(hub, bot_provisioning, bot_provisioning.c.buyer_id == who.buyer.id)) == 1
    assert same_moment(marzban_end(marzban, who.username), end)
    assert all_sent(hub, who)
    assert len(links(telegram, who)) == 1


def post(hub: LiveServer, who: Customer, notes: list[tuple[bytes, dict[str, str]]]) -> list[int]:
    """POST the sandbox's notifications to Kassa all at once; their answers' statuses."""

    async def main() -> list[int]:
        async with httpx.AsyncClient(base_url=hub.url, timeout=30) as http:
            sent = [
                http.post(f"/hooks/sandbox/{who.setup.name}", content=body, headers=headers)
                for body, headers in notes
            ]
            return [response.status_code for response in await asyncio.gather(*sent)]

    return asyncio.run(main())


def replayed(hub: LiveServer, event_id: str) -> str:
    """`payment.succeeded` written again, under a new id (as a replay of the outbox would
    hand it over once more); the new event's id."""

    async def write() -> str:
        async with hub.ctx.db.write() as conn:
            original: Any = (
                (await conn.execute(select(events).where(events.c.id == event_id))).mappings().one()
            )
            copy = {**original, "id": new_id("evt"), "created_at": hub.ctx.clock()}
            copy.pop("seq")
            await conn.execute(events.insert().values(**copy))
            return str(copy["id"])

    return hub.call(write())
