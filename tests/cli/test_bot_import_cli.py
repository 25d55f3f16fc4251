"""`kassa bot import`: a running bot's customers moved over from CSV, with `--dry-run`, and a
bad file refused with its lines named and exit code 1."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from typer.testing import CliRunner

from tests.cli.conftest import invoke


def test_import_dry_run_then_for_real_then_again(kassa: CliRunner, tmp_path: Path) -> None:
    name = f"bot-{secrets.token_hex(4)}"
    invoke(kassa, "shops", "create", name)
    invoke(kassa, "bot", "configure", name, "token=1:secret")
    telegram_id = secrets.randbelow(10**9) + 1
    csv = tmp_path / "customers.csv"
    csv.write_text(f"{telegram_id},Анна,2027-03-01,anna_vpn,ru\n", encoding="utf-8")

    dry = invoke(kassa, "bot", "import", name, str(csv), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "1 customers would import: 1 new buyers" in dry.stdout
    assert "dry run: nothing was changed" in dry.stdout
    done = json.loads(invoke(kassa, "bot", "import", name, str(csv), "--json").stdout)
    assert done == {
        "lines": 1,
        "buyers_created": 1,
        "subscriptions_created": 1,
        "subscriptions_moved": 0,
        "panel_users_linked": 1,
        "unchanged": 0,
        "dry_run": False,
    }
    again = json.loads(invoke(kassa, "bot", "import", name, str(csv), "--json").stdout)
    assert (again["buyers_created"], again["unchanged"]) == (0, 1)


def test_a_bad_file_is_refused_with_its_lines(kassa: CliRunner, tmp_path: Path) -> None:
    name = f"bot-{secrets.token_hex(4)}"
    invoke(kassa, "shops", "create", name)
    csv = tmp_path / "customers.csv"
    csv.write_text("1,A,2027-01-01\n", encoding="utf-8")
    no_bot = invoke(kassa, "bot", "import", name, str(csv))
    assert no_bot.exit_code == 1
    assert "this shop has no bot" in no_bot.output
    invoke(kassa, "bot", "configure", name, "token=1:secret")
    csv.write_text("1,A,2027-01-01\nx,B,2027-01-01\n2,C,tomorrow\n", encoding="utf-8")
    refused = invoke(kassa, "bot", "import", name, str(csv))
    assert refused.exit_code == 1
    assert "nothing was imported" in refused.output
    assert "line 2: telegram_id 'x'" in refused.output
    assert "line 3: ends_at 'tomorrow'" in refused.output
    csv.write_bytes("1,Ann\xe9,2027-01-01\n".encode("latin-1"))
    assert "is not UTF-8 text" in invoke(kassa, "bot", "import", name, str(csv)).output
