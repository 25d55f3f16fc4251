"""The deploy files, checked without Docker (no engine here) or systemd: they parse; the
compose file's services build from what exists or name an image; the Dockerfile installs and
starts Kassa the way the README does; ports and health checks agree with the app; the systemd
units run the commands that exist; docs/deploy.md is linked and says what it must."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.main import get_command

from kassa.cli import app
from kassa.config import Settings
from kassa.web import create_app

ROOT = Path(__file__).parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    def exec_form(self) -> list[str]:
        """The arguments of `CMD ["a", "b"]` (and the like) as a list."""
        command: list[str] = json.loads(self.arguments)
        return command


def dockerfile(path: Path) -> list[Instruction]:
    """A Dockerfile's instructions, continuation lines joined and comments left out."""
    logical: list[str] = []
    pending = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    assert not pending, "a continuation line ends the file"
    parsed = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        assert keyword.isupper(), line
        parsed.append(Instruction(keyword, arguments.strip()))
    return parsed


def app_routes() -> set[str]:
    """The paths the app serves, as its OpenAPI document lists them."""
    return set(create_app(Settings()).openapi()["paths"])


def url_port_and_path(command: list[str]) -> tuple[int, str]:
    """The loopback port and path a health check command asks for."""
    found = re.search(r"http://127\.0\.0\.1:(\d+|%s)(/\w+)", " ".join(command))
    assert found, command
    port = found.group(1)
    return (int(port) if port.isdigit() else -1), found.group(2)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


@pytest.fixture(scope="module")
def image() -> list[Instruction]:
    return dockerfile(ROOT / "Dockerfile")


def test_the_dockerfile_installs_and_starts_kassa_as_the_readme_does(
    image: list[Instruction],
) -> None:
    keywords = [instruction.keyword for instruction in image]
    assert keywords[0] == "FROM"
    known = {"FROM", "WORKDIR", "COPY", "RUN", "ENV", "USER", "VOLUME", "EXPOSE", "HEALTHCHECK"}
    assert set(keywords) <= known | {"CMD", "STOPSIGNAL", "ARG", "LABEL"}
    readme = (ROOT / "README.md").read_text()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "server" in extras["optional-dependencies"]
    assert "'.[server]'" in readme or "'kassa[server]'" in readme
    installs = [i.arguments for i in image if i.keyword == "RUN" and "pip install" in i.arguments]
    assert any("'.[server]'" in command for command in installs), installs
    for copy in (i for i in image if i.keyword == "COPY" and not i.arguments.startswith("--")):
        *sources, _ = shlex.split(copy.arguments)
        for source in sources:
            assert (ROOT / source).exists(), source
            assert f"!{source.rstrip('/')}" in (ROOT / ".dockerignore").read_text()
    (cmd,) = (i for i in image if i.keyword == "CMD")
    assert cmd.exec_form() == ["kassa", "serve"]
    assert "kassa serve" in readme


def test_the_dockerfile_port_and_health_check_agree_with_the_app(image: list[Instruction]) -> None:
    env = " ".join(i.arguments for i in image if i.keyword == "ENV")
    port = int(re.search(r"KASSA_PORT=(\d+)", env).group(1))  # type: ignore[union-attr]
    assert "KASSA_HOST=0.0.0.0" in env  # reachable from outside the container
    (exposed,) = (i.arguments for i in image if i.keyword == "EXPOSE")
    assert int(exposed) == port
    (check,) = (i for i in image if i.keyword == "HEALTHCHECK")
    _, path = url_port_and_path(shlex.split(check.arguments.partition("CMD")[2].strip()))
    assert "KASSA_PORT" in check.arguments  # the port it is told to listen on
    assert path == "/healthz"
    assert path in app_routes()


def test_the_compose_services_build_or_name_an_image(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"db", "migrate", "kassa", "worker"}
    commands = {name: service.get("command") for name, service in services.items()}
    assert commands["kassa"] == ["kassa", "serve"]
    assert commands["worker"] == ["kassa", "worker"]
    assert commands["migrate"] == ["kassa", "migrate"]
    cli = get_command(app)
    for name in ("kassa", "worker", "migrate"):
        service = services[name]
        context = (DEPLOY / service["build"]["context"]).resolve()
        assert (context / service["build"]["dockerfile"]).is_file(), name
        assert commands[name][1] in cli.commands  # type: ignore[attr-defined]
        assert "KASSA_SECRET_KEY" in service["environment"]
        assert service["environment"]["KASSA_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert re.fullmatch(r"postgres:\d+(\.\d+)?(-\w+)?", services["db"]["image"])
    assert services["kassa"]["environment"]["KASSA_BACKGROUND"] == "false"
    assert "KASSA_BACKGROUND" not in services["worker"]["environment"]
    assert services["worker"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert set(compose.get("volumes", {})) >= {
        volume.split(":")[0] for volume in services["db"]["volumes"]
    }


def test_the_compose_health_checks_and_ports_agree_with_the_app(
    compose: dict[str, Any], image: list[Instruction]
) -> None:
    services = compose["services"]
    env = " ".join(i.arguments for i in image if i.keyword == "ENV")
    port = int(re.search(r"KASSA_PORT=(\d+)", env).group(1))  # type: ignore[union-attr]
    (published,) = services["kassa"]["ports"]
    host, host_port, container_port = published.split(":")
    assert (host, int(container_port)) == ("127.0.0.1", port)
    assert int(host_port) > 0
    checked_port, path = url_port_and_path(services["kassa"]["healthcheck"]["test"][1:])
    assert checked_port == port
    assert path in {"/readyz", "/healthz"}
    assert path in app_routes()
    assert services["db"]["healthcheck"]["test"][1] == "pg_isready"
    assert services["kassa"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"


@pytest.mark.parametrize(
    ("unit", "command"),
    [
        ("kassa.service", "serve"),
        ("kassa-worker.service", "worker"),
        ("kassa-bot.service", "bot"),
        ("kassa-agent.service", "agent"),
    ],
)
def test_the_systemd_units_run_kassa(unit: str, command: str) -> None:
    text = (DEPLOY / "systemd" / unit).read_text()
    parsed = configparser.ConfigParser(strict=False, interpolation=None)
    parsed.optionxform = str  # type: ignore[assignment,method-assign]
    parsed.read_string(text)
    assert set(parsed.sections()) == {"Unit", "Service", "Install"}
    executable, *arguments = shlex.split(parsed["Service"]["ExecStart"])
    assert executable.endswith("/bin/kassa")
    assert arguments[0] == command
    assert parsed["Service"]["EnvironmentFile"]
    if command != "agent":
        assert "KASSA_SECRET_KEY" in text  # must be set when hosts share PostgreSQL
        assert parsed["Service"]["ReadWritePaths"] == "/var/lib/kassa"


def test_the_deploy_guide_is_linked_and_complete() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "docs/deploy.md" in readme
    assert "ExecStart=" not in readme  # the systemd example moved to the guide
    for needed in (
        "proxy_set_header Upgrade $http_upgrade",
        "/terminals/ws",
        "KASSA_TRUSTED_PROXIES",
        "createdb",
        "kassa migrate",
        "kassa backup",
        "kassa restore",
        "kassa audit",
        "secrets.md",
        "KASSA_SECRET_KEY",
        "kassa-rules.yml",
        "docker compose",
    ):
        assert needed in guide, needed
    for link in re.findall(r"\]\(([^)#]+)\)", guide):
        if not link.startswith("http"):
            assert (ROOT / "docs" / link).resolve().exists(), link


def systemd_value(raw: str) -> str:
    """A value as systemd's EnvironmentFile= reads it (the part of its syntax examples use):
    quoted, the text inside the quotes; else all of it, a `# …` after it included."""
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    return raw


def test_the_guide_s_settings_file_reads_alike_in_systemd_and_the_shell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The units read /etc/kassa/kassa.env, and the guide's `kassa` commands source it in
    sh: each line must mean the same to both, and Kassa must accept what they read."""
    guide = (ROOT / "docs" / "deploy.md").read_text()
    example = re.search(r"`/etc/kassa/kassa.env` holds the settings.*?```sh\n(.*?)```", guide, re.S)
    assert example, "the guide shows no kassa.env"
    read = {}
    for line in example.group(1).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, raw = line.partition("=")
        (shell_word,) = shlex.split(line, comments=True)  # one NAME=value word, nothing after
        assert shell_word == f"{name}={systemd_value(raw)}", line
        read[name] = systemd_value(raw)
    assert {"KASSA_DATA_DIR", "KASSA_DATABASE_URL", "KASSA_SECRET_KEY"} <= set(read)
    for name, value in read.items():
        if name != "KASSA_SECRET_KEY":  # a placeholder
            monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.trusted_proxies == ["127.0.0.1"]
    assert str(settings.data_dir) == "/var/lib/kassa"
