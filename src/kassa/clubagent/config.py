"""The club agent's settings: the environment over a `.env` beside the program or in the
working directory (python-dotenv). The PC's token is never logged (`__repr__` hides it)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from kassa.agentkit.settings import ConfigError, find_env_file, read_environment, ws_url
from kassa.protocol.club import HEARTBEAT_INTERVAL, PATH

#: The agent's name, in `hello`, its User-Agent and its daily log files.
NAME = "kassa-club-agent"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """Per machine: `%ProgramData%\\Kassa\\club-agent` on Windows,
    `~/.local/state/kassa-club-agent` elsewhere."""
    if sys.platform == "win32":
        return Path(environ.get("ProgramData", r"C:\ProgramData")) / "Kassa" / "club-agent"
    return Path("~/.local/state/kassa-club-agent").expanduser()


@dataclass(slots=True)
class ClubAgentConfig:
    """What `kassa.agentkit.agent.AgentSettings` asks for, and the club agent's own."""

    #: `ws(s)://host/club/ws`.
    hub_url: str
    #: `http(s)://host`, for the PC's HTTP API.
    api_url: str
    token: str = field(repr=False)
    data_dir: Path
    log_level: str = "INFO"
    #: Seconds between heartbeats: the hub's `welcome` sets it.
    heartbeat: float = float(HEARTBEAT_INTERVAL)
    ping_interval: float = 20.0
    backoff_max: float = 30.0
    stable_after: float = 60.0
    grace: float = 5.0
    health_port: int = 0
    stats_interval: float = 300.0

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"


def env_directories() -> tuple[Path, ...]:
    """Where `.env` is looked for: beside the program, then the working directory."""
    return (Path(sys.argv[0]).resolve().parent, Path())


def load_config(
    env_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> ClubAgentConfig:
    """The settings; `ConfigError` saying every one that is missing or wrong."""
    values = read_environment(find_env_file(env_file, env_directories()), environ)
    problems: list[str] = []
    raw_url = values.get("KASSA_HUB_URL", "").strip()
    hub_url = api_url = ""
    if not raw_url:
        problems.append("KASSA_HUB_URL is not set (the hub's address, e.g. https://kassa.example)")
    elif urlsplit(raw_url).scheme not in {"http", "https"}:
        problems.append(f"KASSA_HUB_URL={raw_url!r} is not an http(s):// URL")
    else:
        api_url = raw_url.rstrip("/")
        hub_url = ws_url(api_url, PATH)
    token = values.get("KASSA_PC_TOKEN", "").strip()
    if not token:
        problems.append("KASSA_PC_TOKEN is not set (`kassa club pcs add CLUB PC` prints one)")
    level = values.get("KASSA_CLUB_AGENT_LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if level not in LOG_LEVELS:
        problems.append(f"KASSA_CLUB_AGENT_LOG_LEVEL={level!r} is not one of {LOG_LEVELS}")
    data_dir = values.get("KASSA_CLUB_AGENT_DIR", "").strip()
    if problems:
        raise ConfigError("; ".join(problems))
    return ClubAgentConfig(
        hub_url=hub_url,
        api_url=api_url,
        token=token,
        data_dir=Path(data_dir) if data_dir else default_data_dir(values),
        log_level=level,
    )
