"""`kassa club-agent --check`: the settings, the data directory, Qt, the hardening and whether
the hub answers this PC's token, each a finding of one report (`kassa.agentkit.findings`).

The hub is asked for the lock screen (`GET /club/pc/screen`), which changes nothing on it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx

from kassa.agentkit.findings import Finding, Status
from kassa.agentkit.settings import ConfigError, find_env_file
from kassa.clubagent.config import ClubAgentConfig, env_directories, load_config
from kassa.protocol.club_pc import SCREEN, Screen

#: The hub gets this long to answer, in seconds.
HUB_TIMEOUT = 5.0


def run_checks(env_file: Path | None = None) -> list[Finding]:
    try:
        found = find_env_file(env_file, env_directories())
    except ConfigError as exc:
        return [Finding("env file", Status.FAIL, str(exc))]
    findings = [
        Finding("env file", Status.OK, str(found) if found else "none (the environment only)")
    ]
    try:
        config = load_config(found)
    except ConfigError as exc:
        findings.append(Finding("settings", Status.FAIL, str(exc)))
        return findings
    findings.append(Finding("hub URL", Status.OK, f"{config.api_url} (link {config.hub_url})"))
    findings.append(_data_dir(config.data_dir))
    findings.append(_qt())
    findings.append(_hardening())
    findings.append(_hub(config))
    return findings


def _data_dir(path: Path) -> Finding:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return Finding("data directory", Status.FAIL, f"{path}: {exc.strerror or exc}")
    if not os.access(path, os.W_OK):
        return Finding("data directory", Status.FAIL, f"{path} is not writable")
    return Finding("data directory", Status.OK, f"{path} (logs in {path / 'logs'})")


def _qt() -> Finding:
    try:
        import PySide6
    except ImportError as exc:
        detail = f"PySide6 is missing ({exc}): pip install 'kassa[club-agent]'"
        return Finding("Qt", Status.FAIL, detail)
    return Finding("Qt", Status.OK, f"PySide6 {PySide6.__version__}")


def _hardening() -> Finding:
    if sys.platform == "win32":
        return Finding("hardening", Status.OK, "on: applied while the screen is locked")
    return Finding("hardening", Status.WARN, "not on Windows: every step is a no-op")


def _hub(config: ClubAgentConfig) -> Finding:
    url = config.api_url + SCREEN
    try:
        response = httpx.get(
            url, headers={"Authorization": f"Bearer {config.token}"}, timeout=HUB_TIMEOUT
        )
    except httpx.HTTPError as exc:
        return Finding("hub", Status.FAIL, f"cannot reach {url}: {str(exc) or type(exc).__name__}")
    if response.is_success:
        try:
            screen = Screen.from_data(response.json())
        except ValueError as exc:
            return Finding("hub", Status.FAIL, f"{url} answered something else: {exc}")
        detail = f"accepted the token: PC {screen.alias} of club {screen.club}"
        return Finding("hub", Status.OK, detail)
    try:
        error = response.json()["error"]
        reason = f"{error['code']}: {error['message']}"
    except (ValueError, TypeError, KeyError):
        reason = response.reason_phrase
    if response.status_code in {401, 403}:
        return Finding(
            "hub", Status.FAIL, f"refused the token: HTTP {response.status_code} {reason}"
        )
    return Finding("hub", Status.FAIL, f"{url} answered HTTP {response.status_code} {reason}")
