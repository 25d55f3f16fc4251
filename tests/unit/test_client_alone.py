"""`kassa.client` works where only httpx is installed (the package without its `server` extra)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

#: What the `server` extra brings; none of it may be imported by the client.
SERVER_PACKAGES = (
    "alembic",
    "aiosqlite",
    "asyncpg",
    "babel",
    "fastapi",
    "jinja2",
    "prometheus_client",
    "pydantic",
    "pydantic_settings",
    "rich",
    "sqlalchemy",
    "starlette",
    "typer",
    "uvicorn",
)

SCRIPT = textwrap.dedent(
    """
    import sys

    class NoServer:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is not installed here")
            return None

    sys.meta_path.insert(0, NoServer())

    from kassa.client import AsyncKassa, Kassa, WebhookVerificationError, verify_webhook

    with Kassa("sk_test_x", "http://127.0.0.1:9") as kassa:
        assert kassa.payments is not None
    try:
        verify_webhook(b"{}", {}, "whsec_AAAA")
    except WebhookVerificationError:
        print("client ok")
    """
)


def test_the_client_imports_nothing_of_the_server() -> None:
    code = f"BLOCKED = {set(SERVER_PACKAGES)!r}\n{SCRIPT}"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "client ok"
