"""Running `kassa …` against the test server's database."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner, Result

from kassa.cli import app
from tests.live import LiveServer


@pytest.fixture
def kassa(database_url: str, server: LiveServer) -> CliRunner:
    """Runs `kassa …` against the test server's database."""
    return CliRunner(
        env={
            "KASSA_DATABASE_URL": database_url,
            "KASSA_PUBLIC_URL": server.url,
            # Webhook endpoints on the tests' receivers, on 127.0.0.1.
            "KASSA_WEBHOOKS_ALLOW_PRIVATE": "true",
            "COLUMNS": "250",
        }
    )


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)
