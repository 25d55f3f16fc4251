"""What every agent's settings share: a `.env` file under the environment, numbers that must
not be negative, and the `ws(s)://` URL of the hub's endpoint for a kind of device."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values


class ConfigError(Exception):
    """The configuration cannot work; the message says what to fix."""


def find_env_file(explicit: Path | None, directories: Sequence[Path]) -> Path | None:
    """`explicit` if given (it must exist), else the first `.env` in `directories`."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"the env file {explicit} does not exist")
        return explicit
    for directory in directories:
        candidate = directory.expanduser() / ".env"
        if candidate.is_file():
            return candidate
    return None


def read_environment(
    env_file: Path | None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment over the env file's values: like `load_dotenv`, an exported variable
    wins over the file (systemd's `EnvironmentFile=` and a shell's `export` stay in charge)."""
    values: dict[str, str] = {}
    if env_file is not None:
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return values


def ws_url(url: str, path: str, *, prefix: str | None = None) -> str:
    """The `ws(s)://` URL of the endpoint `path` of the hub at `url` (`https://host` →
    `wss://host<path>`; a URL already ending in `path` is kept). `prefix`, when given, replaces
    the URL's own path as what precedes `path`."""
    parts = urlsplit(url.strip())
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in {"ws", "wss"} or not parts.netloc:
        raise ConfigError(f"the hub URL {url!r} is not an http(s):// or ws(s):// URL")
    base = parts.path.rstrip("/") if prefix is None else prefix
    if not base.endswith(path):
        base += path
    return urlunsplit((scheme, parts.netloc, base, "", ""))


def number(text: str | None, name: str, default: float, problems: list[str]) -> float:
    """`text` as a number not below 0 (`default` when empty); what is wrong goes to
    `problems`."""
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        problems.append(f"{name}={text!r} is not a number")
        return default
    if value < 0:
        problems.append(f"{name}={text!r} must not be negative")
    return value
