"""Secrets at rest: none is stored as it is, everything that uses them still works, rotation
re-encrypts them all (and old ones still decrypt while it runs), and a missing or wrong key
stops Kassa with a clear message. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from alembic import command
from sqlalchemy import insert, make_url, select, update
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner, Result

from kassa.cli import app
from kassa.config import Settings
from kassa.services import encryption, idempotency
from kassa.services.admin import audit
from kassa.services.bot import settings as bot_settings
from kassa.services.callers import Caller
from kassa.services.context import Context, keyring_for, utcnow
from kassa.services.devices import tokens as terminal_tokens
from kassa.services.shops import keys, shops
from kassa.services.webhooks import endpoints as webhooks
from kassa.services.webhooks import sending as webhook_sending
from kassa.store import tables, upgrade
from kassa.store.keyring import (
    CHECK_NAME,
    CHECK_TEXT,
    Keyring,
    KeyringError,
    SecretKeyMissing,
    key_id,
    new_key,
)
from kassa.store.migrate import alembic_config
from kassa.store.tables import audit_log, hub_secrets
from tests.conftest import new_database
from tests.emulators.cloudpayments import hmac_b64
from tests.helpers import (
    create_payment,
    sandbox_notification,
    stored_notifications,
    stored_text,
)
from tests.live import LiveServer
from tests.webhooks.receiver import Receiver, serve

CP_SECRET = "cp_api_secret_0123456789abcdef"
BOT_TOKEN = "7000000001:AAH-bot-token-0123456789"
PANEL_PASSWORD = "panel-password-0123456789"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    yield from serve(Receiver())


@pytest.fixture
def fresh_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A new database of `database_url`'s kind for this test alone (rotations change every
    secret in a database)."""
    yield from new_database(make_url(database_url).get_backend_name(), tmp_path_factory)


@dataclass
class Secrets:
    """A shop with every kind of secret Kassa stores, and the secrets as they were made."""

    server: LiveServer
    api: httpx.Client
    shop_name: str
    sandbox: str
    endpoint_id: str
    endpoint_path: str
    webhook_new: str
    webhook_old: str
    terminal_token: str
    replays: dict[str, tuple[str, dict[str, Any]]]

    @property
    def all(self) -> list[str]:
        return [
            self.sandbox,
            CP_SECRET,
            BOT_TOKEN,
            PANEL_PASSWORD,
            self.webhook_new,
            self.webhook_old,
            self.terminal_token,
            self.server.call(terminal_tokens.signing_key(self.server.ctx)),
        ]


def make_secrets(server: LiveServer, receiver: Receiver) -> Secrets:
    """Through the API and the services as a shop would: a sandbox account, a CloudPayments
    one, a webhook endpoint with a rotated secret, a terminal; the answers that showed a
    secret were given Idempotency-Keys, so Kassa keeps them for replays."""

    async def setup() -> tuple[str, str, str]:
        ctx = server.ctx
        shop = await shops.create_shop(ctx, name=f"t-{secrets.token_hex(5)}")
        sandbox = await shops.configure_provider(ctx, shop=shop, provider="sandbox", settings={})
        await shops.configure_provider(
            ctx,
            shop=shop,
            provider="cloudpayments",
            settings={"public_id": "test_api_public", "api_secret": CP_SECRET},
        )
        _, key = await keys.create_key(ctx, shop=shop, live=False)
        await bot_settings.configure(
            ctx,
            shop=shop,
            changes={
                "token": BOT_TOKEN,
                "panel": "marzban",
                "panel_password": PANEL_PASSWORD,
                "mode": "webhook",  # its webhook secret is made and sealed
            },
        )
        return shop.name, sandbox.account.credentials["secret"], key

    shop_name, sandbox, key = server.call(setup())
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    path = f"/{shop_name}"
    replays: dict[str, tuple[str, dict[str, Any]]] = {}

    def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
        idempotency_key = f"key-{len(replays)}"
        response = api.post(url, json=body, headers={"Idempotency-Key": idempotency_key})
        assert response.status_code in (200, 201), response.text
        replays[idempotency_key] = (url, body)
        document: dict[str, Any] = response.json()
        return document

    made = post("/v1/webhook_endpoints", {"url": receiver.url + path})
    rotated = post(f"/v1/webhook_endpoints/{made['id']}/rotate_secret", {"overlap": 3600})
    terminal = post("/v1/terminals", {"id": "KIOSK_1"})
    receiver.secrets[path] = [rotated["secret"], made["secret"]]
    return Secrets(
        server=server,
        api=api,
        shop_name=shop_name,
        sandbox=sandbox,
        endpoint_id=made["id"],
        endpoint_path=path,
        webhook_new=rotated["secret"],
        webhook_old=made["secret"],
        terminal_token=terminal["token"],
        replays=replays,
    )


def everything_works(found: Secrets, receiver: Receiver) -> None:
    """What uses each secret still works: the shop's answers are replayed with their secrets,
    a sandbox and a CloudPayments notification verify, a webhook delivery is signed with both
    secrets, the terminal token verifies. Caches are dropped first, so secrets are decrypted
    from the database again."""
    server = found.server
    server.ctx.configuration.clear()
    server.ctx.secrets.clear()
    every = found.all
    for idempotency_key, (url, request) in found.replays.items():
        again = found.api.post(url, json=request, headers={"Idempotency-Key": idempotency_key})
        assert again.headers["Idempotent-Replayed"] == "true"
        shown = again.json()
        assert shown.get("secret", shown.get("token")) in every
    payment = create_payment(found.api, provider="sandbox")
    body, headers = sandbox_notification(found.sandbox, payment, "succeeded")
    paid = httpx.post(
        f"{server.url}/hooks/sandbox/{found.shop_name}", content=body, headers=headers
    )
    assert paid.status_code == 200, paid.text
    signed = b"Id=sc_1&AccountId=user-7&Status=Active"
    headers = {"Content-HMAC": hmac_b64(CP_SECRET, signed)}
    httpx.post(
        f"{server.url}/hooks/cloudpayments/{found.shop_name}/recurrent",
        content=signed,
        headers=headers,
    )
    verdicts = [row["verdict"] for row in stored_notifications(server, found.shop_name)]
    assert verdicts[-2:] == ["accepted", "accepted"]
    before = len(receiver.on(found.endpoint_path))
    server.call(
        webhook_sending.resend(
            server.ctx, caller=Caller.system(), event_id=first_event(found, payment["id"])
        )
    )
    (delivered,) = receiver.on(found.endpoint_path)[before:]
    assert delivered.verified == {found.webhook_new: True, found.webhook_old: True}
    claims = server.call(terminal_tokens.verify(server.ctx, found.terminal_token))
    assert claims.device_id == "KIOSK_1"
    shop = server.call(shops.get_shop(server.ctx, name=found.shop_name))
    bot = server.call(bot_settings.find(server.ctx, shop_id=shop.id))
    if bot is not None:  # a shop of a database from before bots has none
        assert bot_settings.open_secret(server.ctx, bot.token) == BOT_TOKEN
        panel = bot_settings.panel_settings_in_clear(server.ctx, bot)
        assert panel["panel_password"] == PANEL_PASSWORD
        if bot.webhook_secret is not None:
            assert len(bot_settings.open_secret(server.ctx, bot.webhook_secret)) >= 32


def first_event(found: Secrets, payment_id: str) -> str:
    events = found.api.get("/v1/events", params={"payment": payment_id}).json()["data"]
    event_id: str = events[-1]["id"]
    return event_id


def test_no_secret_is_stored_as_it_is(
    server: LiveServer, receiver: Receiver, database_url: str
) -> None:
    found = make_secrets(server, receiver)
    with closing(found.api):
        everything_works(found, receiver)
    stored = stored_text(server)
    assert "enc1:" in stored
    assert "test_api_public" in stored  # what is not secret is kept as it is
    for secret in found.all:
        assert secret not in stored
    if server.ctx.db.is_sqlite:
        database = Path(make_url(database_url).database or "")
        files = [database, database.with_name(database.name + "-wal")]
        assert files_holding([found.shop_name, *found.all], files) == [found.shop_name]


#: Prints which of the lines on stdin the files named in argv hold.
_FIND = """
import sys
found = b"".join(open(name, "rb").read() for name in sys.argv[1:])
print("\\n".join(line for line in sys.stdin.read().split() if line.encode() in found))
"""


def files_holding(texts: list[str], files: list[Path]) -> list[str]:
    """Which of `texts` the files hold. Read by another process: closing a file SQLite has
    open in this process would drop the locks SQLite holds on it (POSIX advisory locks), and
    the server's connections here could then see the database change under them."""
    done = subprocess.run(
        [sys.executable, "-c", _FIND, *(str(f) for f in files if f.exists())],
        input="\n".join(texts),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def kassa(url: str, *, data_dir: Path, secret_key: str = "") -> CliRunner:
    """`kassa …` on `url`, with `secret_key` as KASSA_SECRET_KEY, or the key file."""
    return CliRunner(
        env={
            "KASSA_DATABASE_URL": url,
            "KASSA_DATA_DIR": str(data_dir),
            "KASSA_SECRET_KEY": secret_key,
            "COLUMNS": "250",
        }
    )


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


def census(server: LiveServer) -> dict[str, dict[str, int]]:
    found = server.call(encryption.census(server.ctx))
    return {place: dict(counts) for place, counts in found.counts.items() if counts}


def test_rotation_with_the_key_file_while_kassa_serves(
    fresh_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    server = LiveServer(fresh_url, secret_key=None, data_dir=tmp_path).start()
    try:
        found = make_secrets(server, receiver)
        key_file = tmp_path / "secret.key"
        old = Keyring([], key_file=key_file).newest_id
        assert set(census(server)) == {p.name for p in encryption.PLACES}
        assert all(set(counts) == {old} for counts in census(server).values())

        rotated = invoke(kassa(fresh_url, data_dir=tmp_path), "secrets", "rotate")
        assert rotated.exit_code == 0, rotated.output
        new = Keyring([], key_file=key_file).newest_id
        assert new != old
        assert f"Rotated from key {old} to key {new}." in rotated.stdout
        assert f"Removed from the key file: {old}." in rotated.stdout
        assert Keyring([], key_file=key_file).ids == (new,)

        # The server loaded the old key only; it finds the new one in the file.
        with closing(found.api):
            everything_works(found, receiver)
            after = found.api.post("/v1/webhook_endpoints", json={"url": receiver.url + "/b"})
            assert after.status_code == 201
        assert all(set(counts) == {new} for counts in census(server).values())
        stored = stored_text(server)
        assert f"enc1:{old}:" not in stored
        assert "test_api_public" in stored  # what is not secret stays as it is
        for secret in found.all:
            assert secret not in stored

        async def audited() -> list[Any]:
            query = select(audit_log.c.actor_name, audit_log.c.details).where(
                audit_log.c.action == "secrets.rotate"
            )
            async with server.ctx.db.read() as conn:
                return list((await conn.execute(query)).all())

        assert server.call(audited()) == [("cli", {"from_key": old, "to_key": new})]
    finally:
        server.stop()


def test_a_rotation_cut_short_keeps_everything_readable_and_the_next_finishes_it(
    fresh_url: str, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_key, new_key_ = new_key(), new_key()
    old, new = key_id(old_key), key_id(new_key_)
    first = LiveServer(fresh_url, secret_key=old_key).start()
    try:
        found = make_secrets(first, receiver)
    finally:
        first.stop()
        found.api.close()

    # The procedure with KASSA_SECRET_KEY: the new key first, the old one after it.
    both = f"{new_key_},{old_key}"
    server = LiveServer(fresh_url, secret_key=both).start()
    try:
        found.server = server
        found.api = httpx.Client(base_url=server.url, headers=found.api.headers, timeout=30)
        monkeypatch.setattr(encryption, "PLACES", encryption.PLACES[:2])
        server.call(encryption.rotate(server.ctx, actor=audit.CLI))
        monkeypatch.undo()
        halfway = census(server)
        assert halfway["provider_accounts.credentials"] == {new: 2}
        assert halfway["webhook_endpoints.secret"] == {new: 1}
        assert halfway["webhook_endpoints.previous_secret"] == {old: 1}
        with closing(found.api):
            everything_works(found, receiver)  # secrets under either key

        runner = kassa(fresh_url, data_dir=tmp_path, secret_key=both)
        finished = invoke(runner, "secrets", "rotate")
        assert finished.exit_code == 0, finished.output
        assert "Rotated from" not in finished.stdout  # it was rotated already: this finished it
        assert f"Every stored secret is encrypted with key {new} now" in finished.stdout
        assert "drop it from KASSA_SECRET_KEY" in finished.stderr
        assert all(set(counts) == {new} for counts in census(server).values())
        assert not (tmp_path / "secret.key").exists()

        again = invoke(runner, "secrets", "rotate")
        assert again.exit_code == 1
        assert f"Drop the other keys ({old})" in again.stderr
        status = invoke(
            kassa(fresh_url, data_dir=tmp_path, secret_key=new_key_), "secrets", "status"
        )
        assert status.exit_code == 0, status.output
        assert f"Current key: {new}" in status.stdout
    finally:
        server.stop()


def test_a_secret_written_while_a_rotation_begins_is_rotated_too(fresh_url: str) -> None:
    """A secret encrypted under the old key by a transaction that is still open when the
    rotation switches keys must be re-encrypted by that rotation, not left behind."""
    old_key, new_key_ = new_key(), new_key()
    old, new = key_id(old_key), key_id(new_key_)
    server = LiveServer(fresh_url, secret_key=f"{new_key_},{old_key}").start()
    ctx = server.ctx

    async def race() -> encryption.Rotation:
        async with ctx.db.write() as conn:  # the database's secrets are under the old key
            await conn.execute(
                insert(hub_secrets).values(
                    name=CHECK_NAME,
                    value=ctx.keyring.encrypt(CHECK_TEXT, old),
                    created_at=utcnow(),
                )
            )
        async with ctx.db.write() as conn:
            seal = await encryption.sealer(ctx, conn)
            assert seal.key_id == old
            rotation = asyncio.create_task(encryption.rotate(ctx, actor=audit.CLI))
            await asyncio.sleep(0.3)  # the rotation gets as far as it can meanwhile
            await conn.execute(
                insert(hub_secrets).values(
                    name="late", value=seal("written late"), created_at=utcnow()
                )
            )
        return await rotation

    async def late() -> str:
        query = select(hub_secrets.c.value).where(hub_secrets.c.name == "late")
        async with ctx.db.read() as conn:
            value: str = (await conn.execute(query)).scalar_one()
        return value

    try:
        done = server.call(race())
        assert (done.previous, done.current, done.moved) == (old, new, 1)
        stored = server.call(late())
        assert stored.startswith(f"enc1:{new}:")
        assert ctx.keyring.decrypt(stored) == "written late"
    finally:
        server.stop()


def test_hosts_that_start_together_without_a_shared_key_cannot_both_win(fresh_url: str) -> None:
    """Two Kassas starting at once on a new database, each with a key of its own: the database
    takes one key, and the other Kassa refuses to start, naming it."""

    async def start(key: str) -> str:
        ctx = Context.open(Settings(database_url=fresh_url, secret_key=key))
        try:
            return await encryption.check(ctx)
        finally:
            await ctx.close()

    async def both() -> list[str | BaseException]:
        return list(
            await asyncio.gather(start(new_key()), start(new_key()), return_exceptions=True)
        )

    outcomes = asyncio.run(both())
    (winner,) = [outcome for outcome in outcomes if isinstance(outcome, str)]
    (loser,) = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert isinstance(loser, SecretKeyMissing)
    assert loser.key_id == winner


def test_a_missing_or_wrong_key_stops_kassa_with_a_clear_message(
    database_url: str, server: LiveServer, tmp_path: Path
) -> None:
    current = server.call(encryption.check(server.ctx))
    wrong = new_key()
    env = {
        **os.environ,
        "KASSA_DATABASE_URL": database_url,
        "KASSA_SECRET_KEY": wrong,
        "KASSA_DATA_DIR": str(tmp_path),
        "KASSA_PORT": "1",  # never reached
    }
    served = subprocess.run(
        [sys.executable, "-m", "kassa", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    said = served.stdout + served.stderr
    assert served.returncode == 1, said
    assert f"encrypted with key {current}, which this Kassa does not have" in " ".join(said.split())
    assert "KASSA_SECRET_KEY" in said
    assert "Traceback" not in said
    assert wrong not in said

    # No key at all (no KASSA_SECRET_KEY, no key file): the same, and no new key file.
    listed = invoke(kassa(database_url, data_dir=tmp_path), "shops", "list")
    assert listed.exit_code == 1
    message = " ".join(listed.stderr.split())
    assert f"encrypted with key {current}" in message
    assert f"restore the key file {tmp_path / 'secret.key'}" in message
    assert not (tmp_path / "secret.key").exists()


def test_a_database_from_before_encryption_is_encrypted_and_keeps_working(
    fresh_url: str, receiver: Receiver
) -> None:
    """Data as Kassa stored it at revision 0007, secrets as they are; upgraded in place by
    migration 0012 with the session's key, everything works as before; and a downgrade gives
    the secrets back as they were."""
    command.downgrade(alembic_config(fresh_url), "0007")  # nothing stored yet: needs no key
    request = {"url": receiver.url + "/old"}
    before = asyncio.run(_store_as_0007(fresh_url, request))
    keyring = keyring_for(Settings())

    upgrade(fresh_url, keyring=keyring)
    upgraded = asyncio.run(_secret_rows(fresh_url))
    assert upgraded["sandbox"]["secret"].startswith("enc1:")
    assert upgraded["cloudpayments"]["public_id"] == "test_api_public"
    assert upgraded["endpoint"][0].startswith("enc1:")
    assert upgraded["endpoint"][1].startswith("enc1:")
    assert upgraded["hub"]["terminal_tokens"].startswith("enc1:")
    assert keyring.decrypt(upgraded["hub"][CHECK_NAME]) == CHECK_TEXT
    assert upgraded["answer"].startswith(b"enc1:")
    assert keyring.decrypt(upgraded["sandbox"]["secret"]) == before["sandbox"]["secret"]

    server = LiveServer(fresh_url).start()
    try:
        stored = stored_text(server)
        for secret in (*before["endpoint"], before["hub"]["terminal_tokens"], CP_SECRET):
            assert secret not in stored
        _, key = server.call(
            keys.create_key(server.ctx, shop=server.call(shops.get_shop(server.ctx, name="old")))
        )
        api = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        now = utcnow()
        token = jwt.encode(
            {
                "kiosk_id": "KIOSK_1",
                "shop": "shop_old",
                "ver": 1,
                "iat": int(now.timestamp()),
                "exp": int((now + timedelta(days=1)).timestamp()),
            },
            before["hub"]["terminal_tokens"],
            algorithm="HS256",
        )
        found = Secrets(
            server=server,
            api=api,
            shop_name="old",
            sandbox=before["sandbox"]["secret"],
            endpoint_id="we_old",
            endpoint_path="/old",
            webhook_new=before["endpoint"][0],
            webhook_old=before["endpoint"][1],
            terminal_token=token,
            replays={"made-at-0007": ("/v1/webhook_endpoints", request)},
        )
        receiver.secrets["/old"] = [found.webhook_new, found.webhook_old]
        with closing(api):
            everything_works(found, receiver)
    finally:
        server.stop()

    command.downgrade(alembic_config(fresh_url, keyring), "0007")
    assert asyncio.run(_secret_rows(fresh_url)) == before
    with pytest.raises(KeyringError, match="run `kassa migrate`"):
        upgrade(fresh_url)  # secrets to encrypt, and no key given


async def _store_as_0007(url: str, request: dict[str, str]) -> dict[str, Any]:
    """A shop `old` with a sandbox and a CloudPayments account, a webhook endpoint whose
    secret was rotated, the hub's terminal key and the stored answer to `request` (which
    made the endpoint and showed its secret), all written as revision 0007 wrote them."""
    now = utcnow()
    webhook_new, webhook_old = webhooks.new_secret(), webhooks.new_secret()
    answer = {"id": "we_old", "object": "webhook_endpoint", "secret": webhook_old}
    times = {"created_at": now, "updated_at": now}
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(tables.shops).values(id="shop_old", name="old", created_at=now)
            )
            for provider, test, credentials in (
                ("sandbox", True, {"secret": "sbx_sk_" + secrets.token_urlsafe(24)}),
                ("cloudpayments", False, {"public_id": "test_api_public", "api_secret": CP_SECRET}),
            ):
                await conn.execute(
                    insert(tables.provider_accounts).values(
                        id=f"pa_{provider}",
                        shop_id="shop_old",
                        provider=provider,
                        test=test,
                        enabled=True,
                        credentials=credentials,
                        **times,
                    )
                )
            await conn.execute(
                insert(tables.webhook_endpoints).values(
                    id="we_old",
                    shop_id="shop_old",
                    test=True,
                    url=request["url"],
                    events=["*"],
                    enabled=True,
                    secret=webhook_new,
                    previous_secret=webhook_old,
                    previous_secret_expires_at=now + timedelta(days=1),
                    **times,
                )
            )
            await conn.execute(
                insert(tables.hub_secrets).values(
                    name="terminal_tokens", value=secrets.token_urlsafe(48), created_at=now
                )
            )
            await conn.execute(
                insert(tables.idempotency_keys).values(
                    shop_id="shop_old",
                    test=True,
                    key="made-at-0007",
                    request_hash=idempotency.fingerprint(
                        "POST", "/v1/webhook_endpoints", json.dumps(request).encode()
                    ),
                    state="done",
                    resource_id="we_old",
                    response_status=201,
                    response_body=json.dumps(answer, separators=(",", ":")).encode(),
                    created_at=now,
                    locked_at=now,
                )
            )
    finally:
        await engine.dispose()
    return await _secret_rows(url)


async def _secret_rows(url: str) -> dict[str, Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            accounts = (await conn.execute(select(tables.provider_accounts))).mappings().all()
            endpoint = (await conn.execute(select(tables.webhook_endpoints))).mappings().one()
            hub = (await conn.execute(select(tables.hub_secrets))).mappings().all()
            answer = (await conn.execute(select(tables.idempotency_keys))).mappings().one()
    finally:
        await engine.dispose()
    return {
        **{row["provider"]: dict(row["credentials"]) for row in accounts},
        "endpoint": (endpoint["secret"], endpoint["previous_secret"]),
        "hub": {row["name"]: row["value"] for row in hub},
        "answer": answer["response_body"],
    }


def test_credentials_given_anew_replace_ones_no_key_can_read(server: LiveServer) -> None:
    """After a lost key, an account can be configured again with its secrets."""
    lost = new_key()

    async def scenario() -> tuple[str, str]:
        ctx = server.ctx
        shop = await shops.create_shop(ctx, name=f"t-{secrets.token_hex(5)}")
        made = await shops.configure_provider(ctx, shop=shop, provider="sandbox", settings={})
        unreadable = Keyring([lost]).encrypt("sbx_sk_lost", key_id(lost))
        async with ctx.db.write() as conn:
            await conn.execute(
                update(tables.provider_accounts)
                .where(tables.provider_accounts.c.id == made.account.id)
                .values(credentials={"secret": unreadable})
            )
        with pytest.raises(SecretKeyMissing):
            await shops.get_account(ctx, account_id=made.account.id)
        again = await shops.configure_provider(
            ctx, shop=shop, provider="sandbox", settings={"secret": "sbx_sk_given_again"}
        )
        read = await shops.get_account(ctx, account_id=made.account.id)
        return again.account.credentials["secret"], read.credentials["secret"]

    assert server.call(scenario()) == ("sbx_sk_given_again", "sbx_sk_given_again")
