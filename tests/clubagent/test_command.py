"""`kassa club-agent`: runs where only the club-agent extra is installed, says what is wrong
with its settings, and `--check` asks a real HTTP server on loopback (standing in for the hub's
`GET /club/pc/screen`) whether it takes the PC's token."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kassa.agentkit.agent import EXIT_CONFIG
from kassa.clubagent import lease_store, watchdog
from kassa.clubagent.lease import CONTINUE, LOCK, Held, Reference
from kassa.protocol.club import Lease
from kassa.protocol.club_pc import SCREEN
from tests.unit.test_agent_alone import kassa_without_the_server
from tests.unit.test_client_alone import SERVER_PACKAGES

#: The club-agent extra brings Typer and Rich (Typer brings pydantic); not the kiosk agent's
#: YAML, nor the rest of the server.
BLOCKED = (set(SERVER_PACKAGES) - {"rich", "typer", "pydantic"}) | {"yaml"}
TOKEN = "pc-token"


def kassa(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`kassa ARGS` in a process where the server's packages cannot be imported."""
    return kassa_without_the_server(cwd, *args, blocked=BLOCKED, **env)


def test_without_settings_it_says_what_is_missing(tmp_path: Path) -> None:
    done = kassa(tmp_path, "club-agent")
    assert done.returncode == EXIT_CONFIG, done.stderr
    assert "KASSA_HUB_URL is not set" in done.stderr
    assert "KASSA_PC_TOKEN is not set" in done.stderr
    assert "Traceback" not in done.stderr


class Hub(BaseHTTPRequestHandler):
    """The hub's lock-screen endpoint: the screen for TOKEN, the API's error for any other."""

    def do_GET(self) -> None:
        if self.path != SCREEN:
            self._answer(404, {"error": {"code": "not_found", "message": self.path}})
        elif self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._answer(401, {"error": {"code": "token_invalid", "message": "unknown token"}})
        else:
            screen = {
                "club": "lovhub",
                "pc": "PC-01",
                "alias": "Seat 1",
                "zone": "main",
                "currency": "KZT",
                "language": "ru",
                "offline_policy": "lock",
                "packages": [],
                "topups": True,
            }
            self._answer(200, screen)

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def hub_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def check(tmp_path: Path, hub_url: str, token: str) -> subprocess.CompletedProcess[str]:
    settings = {"HUB_URL": hub_url, "PC_TOKEN": token, "CLUB_AGENT_DIR": tmp_path / "data"}
    (tmp_path / ".env").write_text("".join(f"KASSA_{k}={v}\n" for k, v in settings.items()))
    return kassa(tmp_path, "club-agent", "--check")


def test_check_passes_when_the_hub_takes_the_token(tmp_path: Path, hub_url: str) -> None:
    done = check(tmp_path, hub_url, TOKEN)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "accepted the token: PC Seat 1 of club lovhub" in done.stdout
    assert f"{hub_url} (link ws://127.0.0.1" in done.stdout
    assert "PySide6 6." in done.stdout
    assert "not on Windows: every step is a no-op" in done.stdout
    assert (tmp_path / "data").is_dir()
    assert "All checks passed." in done.stdout


def test_check_fails_when_the_hub_refuses_the_token(tmp_path: Path, hub_url: str) -> None:
    done = check(tmp_path, hub_url, "another")
    assert done.returncode == 1
    assert "refused the token: HTTP 401 token_invalid: unknown token" in done.stdout
    assert TOKEN not in done.stdout + done.stderr


def test_check_fails_when_the_hub_is_unreachable(tmp_path: Path, hub_url: str) -> None:
    port = int(hub_url.rsplit(":", 1)[1])
    done = check(tmp_path, f"http://127.0.0.1:{port + 1 if port < 65535 else 1}", TOKEN)
    assert done.returncode == 1
    assert "cannot reach" in done.stdout


def test_the_watchdog_counts_a_saved_lease_of_this_boot_as_in_use(tmp_path: Path) -> None:
    in_use = watchdog.session_playing(tmp_path, TOKEN)
    assert not in_use()  # no lease saved
    lease = Lease.from_data(
        {
            "session": "ses_1",
            "paid_until": "2026-12-06T20:00:00Z",
            "lease_expires_at": "2026-12-06T19:05:00Z",
            "seq": 1,
        }
    )
    reference = Reference(datetime(2026, 12, 6, 19, 0, tzinfo=UTC), time.monotonic())
    store = lease_store.LeaseStore(
        tmp_path / lease_store.FILE, TOKEN, time.monotonic, lease_store.boot_id()
    )
    store.save(lease_store.Saved(held=Held(lease, reference)))
    assert in_use()
    # Locked by staff: the lease is held, nobody plays.
    store.save(lease_store.Saved(held=Held(lease, reference), suspended=True))
    assert not in_use()
    # Ten minutes on, past the lease's end: locked under the `lock` policy, still playing to
    # `paid_until` under `continue`.
    earlier = Reference(reference.server, time.monotonic() - 600)
    store.save(lease_store.Saved(held=Held(lease, earlier), policy=LOCK))
    assert not in_use()
    store.save(lease_store.Saved(held=Held(lease, earlier), policy=CONTINUE))
    assert in_use()
    # Signed with another PC's token (or edited): not believed.
    lease_store.LeaseStore(
        tmp_path / lease_store.FILE, "another", time.monotonic, lease_store.boot_id()
    ).save(lease_store.Saved(held=Held(lease, reference)))
    assert not in_use()
