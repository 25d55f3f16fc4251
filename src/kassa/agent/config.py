"""The agent's settings: from the environment and a `.env` file, with the field agents' older
names still accepted so a kiosk can switch from its proxy without editing its configuration."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from kassa.agentkit import settings
from kassa.agentkit.settings import ConfigError, number, read_environment, ws_url
from kassa.protocol.terminal import PATH as TERMINALS_PATH

__all__ = ["AgentConfig", "ConfigError", "find_env_file", "hub_ws_url", "load_config"]

DEFAULT_GATEWAY_URL = "http://localhost:8080/payment"
DEFAULT_ROUTING_FILE = "routing_config.yaml"
DEFAULT_JOURNAL_FILE = "kassa-agent.db"

#: Where a `.env` file is looked for, in order, when `--env-file` is not given.
ENV_DIRECTORIES = (Path(), Path("/etc/kassa-agent"), Path("~/.kassa-agent"))

# Each setting's names, the preferred first: v1 proxy (`CLOUD_WS_*`, `LOCAL_GATEWAY_URL`) and
# ws_client 1.0.2 (`WS_*`, `ROUTING_CONFIG_PATH`, `HEALTH_CHECK_PORT`) names are fallbacks.
HUB_URL = ("KASSA_HUB_URL", "CLOUD_WS_URL", "WS_SERVER_URL")
TOKEN = ("KASSA_TERMINAL_TOKEN", "CLOUD_WS_TOKEN", "WS_TOKEN")
GATEWAY_URL = ("KASSA_GATEWAY_URL", "LOCAL_GATEWAY_URL")
GATEWAY_STATUS_URL = ("KASSA_GATEWAY_STATUS_URL",)
ROUTING = ("KASSA_ROUTING_CONFIG", "ROUTING_CONFIG_PATH")
JOURNAL = ("KASSA_AGENT_JOURNAL",)
LOG_DIR = ("KASSA_AGENT_LOG_DIR",)
LOG_LEVEL = ("KASSA_AGENT_LOG_LEVEL", "LOG_LEVEL")
HEALTH_PORT = ("KASSA_AGENT_HEALTH_PORT", "HEALTH_CHECK_PORT")
KIOSK_ID = ("KIOSK_ID",)

#: Durations in seconds: (environment name, default).
DURATIONS = {
    "grace": ("KASSA_AGENT_GRACE", 30.0),
    "heartbeat": ("KASSA_AGENT_HEARTBEAT", 30.0),
    "ping_interval": ("KASSA_AGENT_PING_INTERVAL", 20.0),
    "backoff_max": ("KASSA_AGENT_BACKOFF_MAX", 60.0),
    "stable_after": ("KASSA_AGENT_STABLE_AFTER", 60.0),
    "stats_interval": ("KASSA_AGENT_STATS_INTERVAL", 300.0),
}

# A v1 (`/ws/<KIOSK_ID>`) or ws_client (`/ws`) path: the hub's prefix is what precedes it.
_LEGACY_PATH = re.compile(r"^(?P<prefix>.*?)/ws(?:/[^/]*)?/?$")


@dataclass(frozen=True, slots=True)
class AgentConfig:
    hub_url: str
    token: str
    gateway_url: str
    routing_path: Path | None
    journal_path: Path
    log_dir: Path
    log_level: str
    health_port: int
    grace: float
    heartbeat: float
    ping_interval: float
    backoff_max: float
    stable_after: float
    stats_interval: float
    kiosk_id: str | None = None
    #: Where the default payment route asks about a call of unknown outcome (docs/agent.md).
    gateway_status_url: str | None = None
    env_file: Path | None = None
    #: For each setting read from the environment, the name it was found under.
    sources: Mapping[str, str] = field(default_factory=dict)


def find_env_file(
    explicit: Path | None = None, directories: Sequence[Path] = ENV_DIRECTORIES
) -> Path | None:
    """`explicit` if given (it must exist), else the first `.env` in `directories`."""
    return settings.find_env_file(explicit, directories)


def hub_ws_url(url: str, *, legacy: bool) -> str:
    """The `/terminals/ws` URL of the hub at `url`.

    `https://kassa.example` → `wss://kassa.example/terminals/ws`; a URL already ending in
    `/terminals/ws` is kept; a legacy `wss://host/ws/<KIOSK_ID>` or `wss://host/ws` (whose query
    may hold the old token) becomes `wss://host/terminals/ws`.
    """
    path = urlsplit(url.strip()).path
    match = _LEGACY_PATH.match(path) if legacy else None
    prefix = None
    if match and not path.rstrip("/").endswith(TERMINALS_PATH):
        prefix = match["prefix"]
    return ws_url(url, TERMINALS_PATH, prefix=prefix)


def load_config(
    env_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> AgentConfig:
    """The settings from `environ` (the process environment by default) over `env_file`;
    relative paths are taken from `cwd` (the working directory by default)."""
    base = cwd or Path.cwd()
    values = read_environment(env_file, environ)
    sources: dict[str, str] = {}

    def pick(setting: str, names: tuple[str, ...]) -> str | None:
        for name in names:
            value = values.get(name, "").strip()
            if value:
                sources[setting] = name
                return value
        return None

    problems: list[str] = []
    raw_hub = pick("hub_url", HUB_URL)
    hub_url = ""
    if raw_hub is None:
        problems.append("KASSA_HUB_URL is not set (the hub's address, e.g. https://kassa.example)")
    else:
        try:
            hub_url = hub_ws_url(raw_hub, legacy=sources["hub_url"] != "KASSA_HUB_URL")
        except ConfigError as exc:
            problems.append(str(exc))
    token = pick("token", TOKEN) or ""
    if not token:
        problems.append(
            "KASSA_TERMINAL_TOKEN is not set (`kassa terminals add SHOP KIOSK_ID` prints one)"
        )

    gateway_url = pick("gateway_url", GATEWAY_URL) or DEFAULT_GATEWAY_URL
    if sources.get("gateway_url") == "LOCAL_GATEWAY_URL":
        gateway_url = gateway_url.rstrip("/") + "/payment"

    routing_path = _routing_path(pick("routing", ROUTING), base)
    journal = pick("journal", JOURNAL)
    if journal is not None:
        journal_path = base / journal
    else:
        home = routing_path or (env_file and base / env_file)
        journal_path = (home.parent if home else base) / DEFAULT_JOURNAL_FILE

    durations: dict[str, float] = {}
    for setting, (name, default) in DURATIONS.items():
        durations[setting] = number(values.get(name), name, default, problems)
    if durations["heartbeat"] == 0:
        problems.append("KASSA_AGENT_HEARTBEAT must be more than 0 seconds")
    port_text = pick("health_port", HEALTH_PORT)
    port = int(number(port_text, sources.get("health_port", ""), 9091, problems))
    if not 0 <= port <= 65535:
        problems.append(f"{sources['health_port']}={port_text} is not a port number (0 disables)")
    if problems:
        raise ConfigError("; ".join(problems))
    return AgentConfig(
        hub_url=hub_url,
        token=token,
        gateway_url=gateway_url,
        gateway_status_url=pick("gateway_status_url", GATEWAY_STATUS_URL),
        routing_path=routing_path,
        journal_path=journal_path,
        log_dir=base / (pick("log_dir", LOG_DIR) or "logs"),
        log_level=(pick("log_level", LOG_LEVEL) or "INFO").upper(),
        health_port=port,
        kiosk_id=pick("kiosk_id", KIOSK_ID),
        env_file=env_file,
        sources=sources,
        **durations,
    )


def _routing_path(configured: str | None, base: Path) -> Path | None:
    """The configured routes file, or `routing_config.yaml` in `base` if there is one."""
    if configured is not None:
        return base / configured
    default = base / DEFAULT_ROUTING_FILE
    return default if default.is_file() else None
