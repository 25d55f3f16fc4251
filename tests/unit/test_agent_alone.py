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
    sys.argv = ["kassa", "agent", "--check"]
    from kassa.cli import main

    main()
    """
)


def test_kassa_agent_runs_without_the_server_packages(tmp_path: object) -> None:
    code = f"BLOCKED = {BLOCKED!r}\n{SCRIPT}"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=str(tmp_path),
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "200"},
    )
    # The check itself runs and fails for want of settings: exit 1 with its report, not an
    # ImportError.
    assert done.returncode == 1, done.stderr
    assert "KASSA_HUB_URL is not set" in done.stdout + done.stderr
