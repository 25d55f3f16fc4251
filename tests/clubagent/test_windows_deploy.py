"""The Windows deploy files, checked without Windows: the scheduled task runs a command the
CLI has, at logon, elevated, restarted on failure; the sample .env is what the settings read
and what docs/club-agent.md lists; the docs link to files that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.main import get_command

from kassa.agentkit.settings import ConfigError
from kassa.cli.main import app
from kassa.clubagent.config import load_config

ROOT = Path(__file__).parents[2]
WINDOWS = ROOT / "deploy" / "windows"
DOCS = ROOT / "docs" / "club-agent.md"


def test_the_scheduled_task_runs_kassa_club_agent_at_logon_elevated_and_restarted() -> None:
    script = (WINDOWS / "register-club-agent.ps1").read_text()
    action = re.search(r"New-ScheduledTaskAction -Execute \$Kassa -Argument \"([^\"]+)\"", script)
    assert action is not None
    assert action.group(1) in get_command(app).commands  # type: ignore[attr-defined]
    assert "New-ScheduledTaskTrigger -AtLogOn" in script
    assert "-RunLevel Highest" in script
    assert "-RestartCount" in script
    assert "-ExecutionTimeLimit ([TimeSpan]::Zero)" in script


def test_the_sample_env_is_read_by_the_settings_and_documented(tmp_path: Path) -> None:
    sample = (WINDOWS / "club-agent.env.example").read_text()
    names = set(re.findall(r"^#? ?(KASSA_[A-Z_]+)=", sample, re.M))
    assert {"KASSA_HUB_URL", "KASSA_PC_TOKEN"} <= names
    documented = set(re.findall(r"^\| `(KASSA_[A-Z_]+)`", DOCS.read_text(), re.M))
    assert names == documented
    env = tmp_path / ".env"
    env.write_text(sample)
    # Only the token is left to fill in.
    with pytest.raises(ConfigError, match=r"^KASSA_PC_TOKEN is not set"):
        load_config(env, environ={})
    env.write_text(sample.replace("KASSA_PC_TOKEN=", "KASSA_PC_TOKEN=secret"))
    config = load_config(env, environ={})
    assert config.hub_url == "wss://club.example/club/ws"


def test_the_docs_link_to_files_that_exist() -> None:
    links = re.findall(r"\]\((\.\./[^)#]+)\)", DOCS.read_text())
    assert links
    for link in links:
        assert (DOCS.parent / link).resolve().is_file(), link
