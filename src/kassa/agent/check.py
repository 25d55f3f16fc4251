"""`kassa agent --check`: everything the agent needs, checked once, as a list of findings.

Nothing here is fatal: each problem becomes a `fail` row so the operator sees them all at once.
The hub handshake is tried last; if it is accepted the connection is closed at once (a running
agent of the same terminal is replaced by it for a moment and reconnects by itself).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus, WebSocketException

from kassa.agent.config import AgentConfig, ConfigError, find_env_file, load_config
from kassa.agent.local import LocalServices
from kassa.agent.routing import Routing, RoutingError, load_routing
from kassa.agentkit.findings import Finding, Status
from kassa.agentkit.journal import Journal, State
from kassa.agentkit.link import refusal
from kassa.protocol import MAX_FRAME_BYTES, ClaimsError, TokenClaims, unverified_payload

#: The whole hub check (connect and handshake) gives up after this long.
HUB_TIMEOUT = 5.0
#: A token expiring sooner than this is worth a warning.
EXPIRY_WARNING = timedelta(days=30)


def run_checks(env_file: Path | None = None) -> list[Finding]:
    findings: list[Finding] = []
    try:
        found = find_env_file(env_file)
    except ConfigError as exc:
        return [Finding("env file", Status.FAIL, str(exc))]
    findings.append(
        Finding("env file", Status.OK, str(found) if found else "none (the environment only)")
    )
    try:
        config = load_config(found)
    except ConfigError as exc:
        findings.append(Finding("configuration", Status.FAIL, str(exc)))
        return findings
    findings.append(_hub_url(config))
    findings.extend(_token(config))
    routing: Routing | None = None
    try:
        routing = load_routing(config.routing_path, config.gateway_url, config.gateway_status_url)
    except RoutingError as exc:
        findings.append(Finding("routes", Status.FAIL, str(exc)))
    else:
        findings.append(_routes(config, routing))
    findings.append(_journal(config.journal_path))
    findings.append(_log_dir(config.log_dir))
    findings.append(_health_port(config.health_port))
    findings.extend(asyncio.run(_reachability(config, routing)))
    return findings


def _hub_url(config: AgentConfig) -> Finding:
    name = config.sources.get("hub_url", "")
    legacy = f" (from the older {name}, converted)" if name != "KASSA_HUB_URL" else ""
    return Finding("hub URL", Status.OK, config.hub_url + legacy)


def _token(config: AgentConfig) -> list[Finding]:
    try:
        payload = unverified_payload(config.token)
    except ClaimsError as exc:
        return [Finding("token", Status.FAIL, str(exc))]
    try:
        claims = TokenClaims.from_payload(payload)
    except ClaimsError as exc:
        detail = f"{exc}: not a Kassa terminal token (`kassa terminals add` prints one)"
        return [Finding("token", Status.FAIL, detail)]
    findings: list[Finding] = []
    now = datetime.now(UTC)
    if claims.expired(now):
        findings.append(
            Finding("token", Status.FAIL, f"expired on {claims.expires_at:%Y-%m-%d %H:%M} UTC")
        )
    else:
        soon = claims.expires_at - now < EXPIRY_WARNING
        findings.append(
            Finding(
                "token",
                Status.WARN if soon else Status.OK,
                f"kiosk {claims.device_id}, shop {claims.shop_id}, "
                f"expires {claims.expires_at:%Y-%m-%d} "
                "(claims read without verifying the signature)",
            )
        )
    if config.kiosk_id is not None:
        match = config.kiosk_id == claims.device_id
        findings.append(
            Finding(
                "KIOSK_ID",
                Status.OK if match else Status.FAIL,
                f"{config.kiosk_id} "
                + ("matches the token" if match else f"but the token is for {claims.device_id}"),
            )
        )
    return findings


def _routes(config: AgentConfig, routing: Routing) -> Finding:
    source = str(config.routing_path) if config.routing_path else "no routes file"
    kinds = ", ".join(routing.all())
    return Finding("routes", Status.OK, f"{source}: {kinds}")


def _journal(path: Path) -> Finding:
    try:
        journal = Journal(path)
        try:
            unacked = journal.count(State.DONE)
            calling = journal.count(State.CALLING)
        finally:
            journal.close()
    except (OSError, sqlite3.Error) as exc:
        return Finding("journal", Status.FAIL, f"{path}: {exc}")
    if not os.access(path, os.W_OK):
        return Finding("journal", Status.FAIL, f"{path} is not writable")
    detail = f"{path}: {unacked} result(s) waiting for the hub"
    if calling:
        detail += f", {calling} cut short (outcome unknown at next start)"
    return Finding("journal", Status.OK, detail)


def _log_dir(path: Path) -> Finding:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return Finding("logs", Status.FAIL, f"{path}: {exc.strerror or exc}")
    if not os.access(path, os.W_OK):
        return Finding("logs", Status.FAIL, f"{path} is not writable")
    return Finding("logs", Status.OK, str(path))


def _health_port(port: int) -> Finding:
    if not port:
        return Finding("health endpoint", Status.OK, "disabled (port 0)")
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return Finding(
                "health endpoint",
                Status.WARN,
                f"port {port} is in use (is the agent already running?)",
            )
    return Finding("health endpoint", Status.OK, f"http://127.0.0.1:{port}/health")


async def _reachability(config: AgentConfig, routing: Routing | None) -> list[Finding]:
    findings: list[Finding] = []
    if routing is not None:
        local = LocalServices()
        try:
            routes = routing.all()
            results = await asyncio.gather(*(local.check(route) for route in routes.values()))
        finally:
            await local.aclose()
        for (kind, route), result in zip(routes.items(), results, strict=True):
            if result["ok"]:
                detail = f"{route.url} answers ({result['latency_ms']} ms)"
                findings.append(Finding(f"route {kind}", Status.OK, detail))
            else:
                detail = f"{route.url} unreachable: {result['error']}"
                findings.append(Finding(f"route {kind}", Status.FAIL, detail))
    findings.append(await _handshake(config))
    return findings


async def _handshake(config: AgentConfig) -> Finding:
    try:
        async with asyncio.timeout(HUB_TIMEOUT):
            async with connect(
                config.hub_url,
                additional_headers={"Authorization": f"Bearer {config.token}"},
                open_timeout=HUB_TIMEOUT,
                max_size=MAX_FRAME_BYTES,
            ) as ws:
                await ws.close()
    except InvalidStatus as exc:
        code, message = refusal(exc.response.body)
        status = exc.response.status_code
        return Finding("hub", Status.FAIL, f"refused the token: HTTP {status} {code} {message}")
    except (OSError, TimeoutError, WebSocketException) as exc:
        return Finding("hub", Status.FAIL, f"cannot connect: {str(exc) or type(exc).__name__}")
    return Finding("hub", Status.OK, "accepted the token")
