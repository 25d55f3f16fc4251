"""`kassa admin`: creating users (typed or generated password), listing them, a new password."""

from __future__ import annotations

import secrets

from typer.testing import CliRunner

from kassa.cli import app
from kassa.domain import Role
from kassa.services.admin import users as admins
from tests.cli.conftest import invoke
from tests.live import LiveServer


def test_create_user_asks_for_the_password_twice(kassa: CliRunner, server: LiveServer) -> None:
    name = f"cli-{secrets.token_hex(3)}"
    typed = "a-long-password"
    result = kassa.invoke(
        app,
        ["admin", "create-user", name, "--role", "owner"],
        input=f"{typed}\n{typed}\n",
    )
    assert result.exit_code == 0, result.output
    assert typed not in result.stdout, "a typed password is never echoed"
    user = server.call(admins.verify(server.ctx, name=name, password=typed))
    assert user is not None
    assert user.role == Role.OWNER

    listed = invoke(kassa, "admin", "users").stdout
    assert name in listed
    assert "owner" in listed
    again = invoke(kassa, "admin", "create-user", name, "--generate")
    assert again.exit_code == 1
    assert "already exists" in again.stderr


def test_create_user_refuses_mismatch_and_short_passwords(kassa: CliRunner) -> None:
    # A mismatch asks again (here: the second try is short, so it fails).
    typed = "\n".join(["a" * 12, "b" * 12, "short", "short"]) + "\n"
    mismatch = kassa.invoke(app, ["admin", "create-user", "mismatch"], input=typed)
    assert "do not match" in mismatch.output
    assert mismatch.exit_code == 1
    short = kassa.invoke(app, ["admin", "create-user", "shorty"], input="abc\nabc\n")
    assert short.exit_code == 1
    assert "at least 10 characters" in short.stderr


def test_generated_passwords_are_printed_once(kassa: CliRunner, server: LiveServer) -> None:
    name = f"gen-{secrets.token_hex(3)}"
    made = invoke(kassa, "admin", "create-user", name, "--role", "viewer", "--generate")
    assert made.exit_code == 0, made.output
    password = made.stdout.strip()
    assert len(password) == 20
    assert "Shown once" in made.stderr
    assert server.call(admins.verify(server.ctx, name=name, password=password))

    reset = invoke(kassa, "admin", "set-password", name, "--generate")
    new_password = reset.stdout.strip()
    assert new_password != password
    assert server.call(admins.verify(server.ctx, name=name, password=password)) is None
    assert server.call(admins.verify(server.ctx, name=name, password=new_password))
    assert invoke(kassa, "admin", "set-password", "nobody-at-all", "--generate").exit_code == 1
