"""`kassa agent` and `kassa dev` as Typer apps (the process tests run `python -m kassa.agent`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kassa.agent.command import app as agent_app
from kassa.cli.dev import app as dev_app


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory and home, and no agent settings in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in (
        "KASSA_HUB_URL",
        "KASSA_TERMINAL_TOKEN",
        "CLOUD_WS_URL",
        "CLOUD_WS_TOKEN",
        "WS_SERVER_URL",
        "WS_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_without_settings_the_agent_says_what_is_missing(bare: Path) -> None:
    result = CliRunner().invoke(agent_app, [], prog_name="kassa agent")
    assert result.exit_code == 1
    assert "KASSA_HUB_URL is not set" in result.output


def test_check_reports_a_missing_env_file(bare: Path) -> None:
    result = CliRunner().invoke(
        agent_app, ["--check", "--env-file", str(bare / "nope.env")], prog_name="kassa agent"
    )
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_check_reports_an_unreadable_token(bare: Path) -> None:
    env = bare / "agent.env"
    env.write_text(
        "KASSA_HUB_URL=ws://127.0.0.1:9\nKASSA_TERMINAL_TOKEN=not-a-jwt\n"
        "KASSA_AGENT_HEALTH_PORT=0\nKASSA_GATEWAY_URL=http://127.0.0.1:9/payment\n"
    )
    result = CliRunner().invoke(
        agent_app,
        ["--check", "--env-file", str(env)],
        prog_name="kassa agent",
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 1
    assert "not a JWT" in result.output
    assert "cannot connect" in result.output
    assert (bare / "kassa-agent.db").exists()  # beside the env file


def test_dev_fake_gateway_help() -> None:
    result = CliRunner().invoke(dev_app, ["fake-gateway", "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    assert "approve" in result.output
