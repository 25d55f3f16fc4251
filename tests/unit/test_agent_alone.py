"""`kassa agent` works where only the `agent` extra is installed (no server packages)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.unit.test_client_alone import SERVER_PACKAGES

#: The agent extra brings Typer and Rich for its command line (and Typer brings pydantic);
#: the rest of the server must stay away.
BLOCKED = set(SERVER_PACKAGES) - {"rich", "typer", "pydantic"}

SCRIPT = textwrap.dedent(
    """
    import sys

    class NoServer:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is not installed here")
            return None

    sys.meta_path.insert(0, NoServer())
    sys.argv = ["kassa", *ARGS]
    from kassa.cli import main

    main()
    """
)


def kassa_without_the_server(
    tmp_path: object, *args: str, blocked: set[str] = BLOCKED, **env: str
) -> subprocess.CompletedProcess[str]:
    """`kassa ARGS` in a process where the `blocked` packages cannot be imported."""
    code = f"BLOCKED = {blocked!r}\nARGS = {list(args)!r}\n{SCRIPT}"
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=str(tmp_path),
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "200", **env},
    )


def test_kassa_agent_runs_without_the_server_packages(tmp_path: object) -> None:
    done = kassa_without_the_server(tmp_path, "agent", "--check")
    # The check itself runs and fails for want of settings: exit 1 with its report, not an
    # ImportError.
    assert done.returncode == 1, done.stderr
    assert "KASSA_HUB_URL is not set" in done.stdout + done.stderr


def test_the_hubs_commands_say_what_is_missing_without_the_server_packages(
    tmp_path: object,
) -> None:
    done = kassa_without_the_server(tmp_path, "--help")
    assert done.returncode == 1
    assert "need the server extra" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_agent_imports_only_the_protocol_and_its_kit_of_kassa(tmp_path: object) -> None:
    """`python -m kassa.agent` loads nothing of the hub: not its command line, services, store,
    web, providers or settings."""
    code = textwrap.dedent(
        """
        import runpy, sys
        sys.argv = ["kassa agent", "--help"]
        try:
            runpy.run_module("kassa.agent", run_name="__main__")
        except SystemExit:
            pass
        print(" ".join(sorted(name for name in sys.modules if name.startswith("kassa"))))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=str(tmp_path),
    )
    loaded = done.stdout.splitlines()[-1].split()
    allowed = ("kassa.agent", "kassa.agentkit", "kassa.protocol", "kassa.domain")
    assert "kassa.agent.command" in loaded
    assert [name for name in loaded if name != "kassa" and not name.startswith(allowed)] == []
