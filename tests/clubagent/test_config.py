"""The club agent's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from kassa.agentkit.settings import ConfigError
from kassa.clubagent.config import load_config


def test_the_ws_url_is_derived_and_the_token_kept_out_of_repr(tmp_path: Path) -> None:
    config = load_config(
        environ={
            "KASSA_HUB_URL": "https://kassa.example/",
            "KASSA_PC_TOKEN": "secret-token",
            "KASSA_CLUB_AGENT_DIR": str(tmp_path),
        }
    )
    assert config.hub_url == "wss://kassa.example/club/ws"
    assert config.api_url == "https://kassa.example"
    assert config.data_dir == tmp_path
    assert "secret-token" not in repr(config)


def test_an_env_file_is_read_under_the_environment(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("KASSA_HUB_URL=http://127.0.0.1:8000\nKASSA_PC_TOKEN=from-file\n")
    config = load_config(env, environ={"KASSA_PC_TOKEN": "from-env"})
    assert (config.hub_url, config.token) == ("ws://127.0.0.1:8000/club/ws", "from-env")


def test_missing_and_bad_settings_are_all_named() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(environ={"KASSA_CLUB_AGENT_LOG_LEVEL": "chatty"})
    message = str(caught.value)
    assert "KASSA_HUB_URL is not set" in message
    assert "KASSA_PC_TOKEN is not set" in message
    assert "CHATTY" in message
    with pytest.raises(ConfigError, match="http"):
        load_config(environ={"KASSA_HUB_URL": "ftp://x", "KASSA_PC_TOKEN": "t"})
