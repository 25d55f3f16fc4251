"""`kassa shops fiscal`: a shop's fiscal receipt settings, shown, set, changed, switched off."""

from __future__ import annotations

import json
import secrets

from typer.testing import CliRunner

from tests.cli.conftest import invoke


def test_set_change_show_and_switch_off(kassa: CliRunner) -> None:
    name = f"fiscal-{secrets.token_hex(4)}"
    invoke(kassa, "shops", "create", name)
    assert "sends no fiscal receipts" in invoke(kassa, "shops", "fiscal", name).stdout

    refused = invoke(kassa, "shops", "fiscal", name, "--vat", "1")
    assert refused.exit_code == 1
    assert "give --tax-system and --vat" in refused.stderr

    invoke(kassa, "shops", "fiscal", name, "--tax-system", "2", "--vat", "1", "--required")
    changed = invoke(kassa, "shops", "fiscal", name, "--subject", "service", "--json")
    assert json.loads(changed.stdout) == {
        "tax_system_code": 2,
        "vat_code": 1,
        "payment_subject": "service",
        "payment_mode": "full_payment",
        "receipts_required": True,
    }
    (listed,) = [
        s for s in json.loads(invoke(kassa, "shops", "list", "--json").stdout) if s["name"] == name
    ]
    assert listed["fiscal"]["payment_subject"] == "service"

    bad = invoke(kassa, "shops", "fiscal", name, "--mode", "whenever")
    assert bad.exit_code == 1
    assert "payment_mode must be one of" in bad.stderr

    invoke(kassa, "shops", "fiscal", name, "--off")
    assert json.loads(invoke(kassa, "shops", "fiscal", name, "--json").stdout) is None
