"""`kassa backup` and `kassa restore`: an SQLite backup taken while a real `kassa serve`
writes, restored into a fresh data directory, passes `kassa audit` with the rows it had; a
running Kassa's database is never overwritten; PostgreSQL's printed `pg_dump` and
`pg_restore` commands work and show no password."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from kassa.services.context import Context
from kassa.services.shops import keys, shops
from tests.cli.conftest import invoke
from tests.live import LiveServer, fresh_postgres, serve_process

KEY = re.compile(r"sk_test_[A-Za-z0-9]{32}")
#: The writer's bounds: payments it makes at most, and seconds it runs at most.
MOST_PAYMENTS = 300
MOST_SECONDS = 60.0


def kassa_on(data_dir: Path) -> CliRunner:
    return CliRunner(
        env={"KASSA_DATA_DIR": str(data_dir), "KASSA_DATABASE_URL": None, "COLUMNS": "200"}
    )


class Writer(threading.Thread):
    """Creates payments through the API, paying every other one at the sandbox, until
    stopped (or its bounds are reached); `created` lists their ids in order."""

    def __init__(self, base: str, key: str) -> None:
        super().__init__(name="payments-writer")
        self.api = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        self.created: list[str] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + MOST_SECONDS
        with self.api:
            while not self.stopped.is_set() and len(self.created) < MOST_PAYMENTS:
                if time.monotonic() > deadline:
                    return
                answer = self.api.post("/v1/payments", json={"amount": 1000, "currency": "RUB"})
                assert answer.status_code == 201, answer.text
                payment = answer.json()
                if len(self.created) % 2:
                    url = payment["confirmation"]["url"]
                    assert httpx.post(url, data={"action": "pay"}, timeout=30).status_code == 200
                self.created.append(payment["id"])

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + MOST_SECONDS
        while len(self.created) < count and self.is_alive():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert len(self.created) >= count


def payment_ids(database: Path) -> set[str]:
    conn = sqlite3.connect(database)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM payments")}
    finally:
        conn.close()


def test_a_backup_taken_while_kassa_serves_restores_into_a_fresh_data_directory(
    tmp_path: Path,
) -> None:
    live, fresh, copy = tmp_path / "live", tmp_path / "fresh", tmp_path / "kassa-backup.db"
    on_live = kassa_on(live)
    assert invoke(on_live, "shops", "create", "backed").exit_code == 0
    assert invoke(on_live, "providers", "configure", "backed", "sandbox").exit_code == 0
    with serve_process(live, "--new-key") as served:
        (key,) = set(KEY.findall(served.text))
        writer = Writer(served.base, key)
        writer.start()
        try:
            writer.wait_for(10)
            before = len(writer.created)
            made = invoke(on_live, "backup", str(copy))
            during = len(writer.created)
            writer.wait_for(during + 5)  # it went on writing all along
        finally:
            writer.stopped.set()
            writer.join(timeout=60)
        assert made.exit_code == 0, made.output
        assert "secret key is not in the backup" in " ".join(made.stderr.split())
        again = invoke(on_live, "backup", str(copy))
        assert again.exit_code == 1
        assert "exists" in again.stderr

        refused = invoke(on_live, "restore", str(copy), "--force")
        assert refused.exit_code == 1
        assert "in use" in refused.stderr
        kept = httpx.get(
            f"{served.base}/v1/payments/{writer.created[-1]}",
            headers={"Authorization": f"Bearer {key}"},
        )
        assert kept.status_code == 200  # the running Kassa's database was left alone

    on_fresh = kassa_on(fresh)
    restored = invoke(on_fresh, "restore", str(copy))
    assert restored.exit_code == 0, restored.output
    assert not (fresh / "kassa.db-wal").exists() or (fresh / "kassa.db-wal").stat().st_size == 0
    audited = invoke(on_fresh, "audit")
    assert audited.exit_code == 0, audited.output
    found = payment_ids(fresh / "kassa.db")
    assert set(writer.created[:before]) <= found <= set(writer.created)
    assert len(found) <= during + 1  # a moment while the backup ran, not later
    listed = invoke(on_fresh, "payments", "list", "--shop", "backed", "--status", "succeeded")
    assert listed.exit_code == 0

    over = invoke(on_fresh, "restore", str(copy))
    assert over.exit_code == 1
    assert "--force" in over.stderr
    assert invoke(on_fresh, "restore", str(copy), "--force").exit_code == 0


def test_a_file_that_is_not_a_kassa_backup_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    refused = invoke(kassa_on(tmp_path / "data"), "restore", str(other))
    assert refused.exit_code == 1
    assert "is not a Kassa database" in refused.stderr
    assert not (tmp_path / "data" / "kassa.db").exists()
    missing = invoke(kassa_on(tmp_path / "data"), "backup", str(tmp_path / "b.db"))
    assert missing.exit_code == 1
    assert "no database" in missing.stderr


def test_the_database_itself_is_neither_a_backup_nor_a_restore(tmp_path: Path) -> None:
    """`--force` would have put a copy in the place of the file a running Kassa holds: it
    would go on writing into the file it has open, which is then gone."""
    data = kassa_on(tmp_path / "data")
    assert invoke(data, "migrate").exit_code == 0
    database = tmp_path / "data" / "kassa.db"
    inode = database.stat().st_ino
    for command in ("backup", "restore"):
        refused = invoke(data, command, str(database), "--force")
        assert refused.exit_code == 1, refused.output
        assert "is the database itself" in " ".join(refused.stderr.split())
    assert database.stat().st_ino == inode


def test_the_postgresql_commands_show_no_password() -> None:
    url = "postgresql+asyncpg://kassa:s3cr%40t@db.internal:5433/shop?ssl=require"
    runner = CliRunner(env={"KASSA_DATABASE_URL": url})
    for command in ("backup", "restore"):
        result = invoke(runner, command, "/backups/kassa.dump")
        assert result.exit_code == 0, result.output
        assert "s3cr" not in result.output
        line = shlex.split(result.stdout)
        assert {"--host=db.internal", "--port=5433", "--username=kassa"} <= set(line)
        assert "ssl" in result.stderr  # the URL's options are named, to set by hand
    plain = invoke(runner, "restore", "/backups/kassa.sql").stdout
    assert shlex.split(plain)[0] == "psql"


@pytest.mark.skipif(
    not os.environ.get("KASSA_TEST_DATABASE_URL") or not shutil.which("pg_dump"),
    reason="needs PostgreSQL (KASSA_TEST_DATABASE_URL) and its client tools",
)
def test_postgresql_backup_and_restore_with_the_printed_commands(tmp_path: Path) -> None:
    base = os.environ["KASSA_TEST_DATABASE_URL"]
    database = contextmanager(fresh_postgres)
    with database(base) as source, database(base) as target:
        created = _payments_on(source)
        dump = tmp_path / "kassa.dump"
        run_printed(invoke(CliRunner(env={"KASSA_DATABASE_URL": source}), "backup", str(dump)))
        on_target = CliRunner(env={"KASSA_DATABASE_URL": target})
        run_printed(invoke(on_target, "restore", str(dump)))
        audited = invoke(on_target, "audit")
        assert audited.exit_code == 0, audited.output
        listed = invoke(on_target, "payments", "list", "--json")
        assert {payment["id"] for payment in _json(listed)} == set(created)


def run_printed(result: Result) -> None:
    """Run the command `kassa` printed, as its user would."""
    assert result.exit_code == 0, result.output
    done = subprocess.run(shlex.split(result.stdout), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def _json(result: Result) -> list[dict[str, str]]:
    assert result.exit_code == 0, result.output
    found: list[dict[str, str]] = json.loads(result.stdout)
    return found


def _payments_on(url: str) -> list[str]:
    server = LiveServer(url).start()
    try:

        async def setup(ctx: Context) -> str:
            shop = await shops.create_shop(ctx, name="backed")
            await shops.configure_provider(ctx, shop=shop, provider="sandbox", settings={})
            return (await keys.create_key(ctx, shop=shop))[1]

        key = server.call(setup(server.ctx))
        created = []
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as api:
            for n in range(4):
                payment = api.post("/v1/payments", json={"amount": 1000, "currency": "RUB"}).json()
                if n % 2:
                    httpx.post(payment["confirmation"]["url"], data={"action": "pay"}, timeout=30)
                created.append(payment["id"])
        return created
    finally:
        server.stop()
