"""Settings: Kassa's names, the field agents' older ones, and `.env` files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from kassa.agent.config import ConfigError, find_env_file, hub_ws_url, load_config
from kassa.protocol import TokenClaims, unverified_payload
from tests.agent.helpers import make_token

BASE = {"KASSA_HUB_URL": "https://kassa.example", "KASSA_TERMINAL_TOKEN": "t.o.k"}


def test_defaults(tmp_path: Path) -> None:
    config = load_config(environ=BASE, cwd=tmp_path)
    assert config.hub_url == "wss://kassa.example/terminals/ws"
    assert config.gateway_url == "http://localhost:8080/payment"
    assert config.routing_path is None
    assert config.journal_path == tmp_path / "kassa-agent.db"
    assert config.log_dir == tmp_path / "logs"
    assert config.health_port == 9091
    assert (config.grace, config.heartbeat, config.ping_interval) == (30, 30, 20)
    assert (config.backoff_max, config.stable_after, config.stats_interval) == (60, 60, 300)
    assert config.log_level == "INFO"
    assert config.gateway_status_url is None
    status = "http://127.0.0.1:8011/api/v1/dcpayment/payment/{order_id}"
    looked_up = load_config(environ={**BASE, "KASSA_GATEWAY_STATUS_URL": status}, cwd=tmp_path)
    assert looked_up.gateway_status_url == status


@pytest.mark.parametrize(
    ("url", "legacy", "expected"),
    [
        ("ws://127.0.0.1:8000", False, "ws://127.0.0.1:8000/terminals/ws"),
        ("https://kassa.example/", False, "wss://kassa.example/terminals/ws"),
        ("http://hub:8000/kassa", False, "ws://hub:8000/kassa/terminals/ws"),
        ("wss://kassa.example/terminals/ws", False, "wss://kassa.example/terminals/ws"),
        ("wss://cloud.example/ws/KIOSK_001", True, "wss://cloud.example/terminals/ws"),
        ("wss://cloud.example/ws", True, "wss://cloud.example/terminals/ws"),
        ("wss://cloud.example/ws?token=abc", True, "wss://cloud.example/terminals/ws"),
    ],
)
def test_hub_url(url: str, legacy: bool, expected: str) -> None:
    assert hub_ws_url(url, legacy=legacy) == expected


def test_v1_proxy_names(tmp_path: Path) -> None:
    config = load_config(
        environ={
            "CLOUD_WS_URL": "wss://cloud.example/ws/KIOSK_001",
            "CLOUD_WS_TOKEN": "v1.to.ken",
            "KIOSK_ID": "KIOSK_001",
            "LOCAL_GATEWAY_URL": "http://127.0.0.1:8011/",
            "LOG_LEVEL": "debug",
        },
        cwd=tmp_path,
    )
    assert config.hub_url == "wss://cloud.example/terminals/ws"
    assert config.token == "v1.to.ken"
    assert config.kiosk_id == "KIOSK_001"
    assert config.gateway_url == "http://127.0.0.1:8011/payment"
    assert config.log_level == "DEBUG"
    assert config.sources["hub_url"] == "CLOUD_WS_URL"


def test_ws_client_names(tmp_path: Path) -> None:
    (tmp_path / "routes.yaml").write_text("routes: {}\n")
    config = load_config(
        environ={
            "WS_SERVER_URL": "wss://cloud.example/ws",
            "WS_TOKEN": "v3.to.ken",
            "ROUTING_CONFIG_PATH": "routes.yaml",
            "HEALTH_CHECK_PORT": "9999",
        },
        cwd=tmp_path,
    )
    assert config.hub_url == "wss://cloud.example/terminals/ws"
    assert config.token == "v3.to.ken"
    assert config.routing_path == tmp_path / "routes.yaml"
    assert config.journal_path == tmp_path / "kassa-agent.db"
    assert config.health_port == 9999


def test_kassa_names_win_over_legacy(tmp_path: Path) -> None:
    environ = {
        **BASE,
        "CLOUD_WS_URL": "wss://old/ws/K",
        "WS_TOKEN": "old",
        "HEALTH_CHECK_PORT": "1",
    }
    config = load_config(environ={**environ, "KASSA_AGENT_HEALTH_PORT": "0"}, cwd=tmp_path)
    assert config.hub_url == "wss://kassa.example/terminals/ws"
    assert config.token == "t.o.k"
    assert config.health_port == 0


def test_env_file_under_the_environment(tmp_path: Path) -> None:
    env = tmp_path / "etc" / ".env"
    env.parent.mkdir()
    env.write_text(
        "KASSA_HUB_URL=http://from-file:8000\nKASSA_TERMINAL_TOKEN=file.to.ken\n"
        "KASSA_AGENT_GRACE=5\n"
    )
    assert find_env_file(directories=[tmp_path / "nowhere", env.parent]) == env
    config = load_config(env, environ={"KASSA_TERMINAL_TOKEN": "env.to.ken"}, cwd=tmp_path)
    assert config.hub_url == "ws://from-file:8000/terminals/ws"
    assert config.token == "env.to.ken"
    assert config.grace == 5
    # The journal lives beside the env file when no routes file says otherwise.
    assert config.journal_path == env.parent / "kassa-agent.db"


def test_explicit_env_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        find_env_file(tmp_path / "missing.env")


def test_routing_file_in_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "routing_config.yaml").write_text("routes: {}\n")
    config = load_config(environ=BASE, cwd=tmp_path)
    assert config.routing_path == tmp_path / "routing_config.yaml"


def test_every_problem_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(
            environ={"KASSA_AGENT_GRACE": "soon", "KASSA_AGENT_HEALTH_PORT": "70000"}, cwd=tmp_path
        )
    message = str(caught.value)
    for part in ("KASSA_HUB_URL", "KASSA_TERMINAL_TOKEN", "KASSA_AGENT_GRACE", "70000"):
        assert part in message


def test_rejects_a_non_websocket_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ftp://"):
        load_config(environ={**BASE, "KASSA_HUB_URL": "ftp://hub"}, cwd=tmp_path)


def test_token_claims_read_without_verification() -> None:
    def read(token: str) -> TokenClaims:
        return TokenClaims.from_payload(unverified_payload(token))

    claims = read(make_token("KIOSK_7", "shop", timedelta(days=2)))
    assert (claims.device_id, claims.shop_id) == ("KIOSK_7", "shop")
    assert not claims.expired()
    assert read(make_token(expires_in=timedelta(seconds=-5))).expired()
