"""`kassa admin`: the admin UI's users: create, list, set a password."""

from __future__ import annotations

from typing import Annotated

import typer

from kassa.cli.output import (
    JsonOption,
    console,
    errors,
    fail,
    id_column,
    print_json,
    run,
    show,
    table,
)
from kassa.domain import AdminUser, Role
from kassa.services.admin import audit
from kassa.services.admin import users as admins
from kassa.services.context import Context
from kassa.services.objects import timestamp

app = typer.Typer(
    help="Admin UI users: create (owner, operator, viewer), list, set a password.",
    no_args_is_help=True,
)

Generate = Annotated[
    bool, typer.Option("--generate", help="Generate a password and print it, once.")
]


def _password(generate: bool) -> tuple[str, bool]:
    """A generated password, or one typed twice without echo; and whether it was generated."""
    if generate:
        return admins.generate_password(), True
    typed: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(typed) < admins.MIN_PASSWORD_LENGTH:
        raise fail(f"a password has at least {admins.MIN_PASSWORD_LENGTH} characters")
    return typed, False


def _show_generated(password: str) -> None:
    console.print(password, soft_wrap=True)
    errors.print("[dim]Shown once: Kassa keeps only its hash.[/]")


@app.command("create-user")
def create_user(
    name: str,
    role: Annotated[
        Role,
        typer.Option(
            help="owner: everything; operator: act on payments; viewer: read only; "
            "club_operator: run a club's floor, not its prices."
        ),
    ] = Role.VIEWER,
    generate: Generate = False,
) -> None:
    """Create a user of the admin UI (asks for the password twice, unless --generate)."""
    password, generated = _password(generate)
    user = run(
        lambda ctx: admins.create_user(
            ctx, name=name, role=role, password=password, actor=audit.CLI
        )
    )
    errors.print(f"Created {user.role} [bold]{user.name}[/] ({user.id})")
    if generated:
        _show_generated(password)


@app.command("set-password")
def set_password(name: str, generate: Generate = False) -> None:
    """Give a user a new password (signing them out everywhere); for a forgotten one."""
    password, generated = _password(generate)

    async def work(ctx: Context) -> AdminUser:
        user = await admins.get_user(ctx, name=name)
        change = admins.Change(password=password)
        return await admins.update_user(ctx, user_id=user.id, change=change, actor=audit.CLI)

    user = run(work)
    errors.print(f"New password set for [bold]{user.name}[/]")
    if generated:
        _show_generated(password)


@app.command("users")
def users(as_json: JsonOption = False) -> None:
    """List the admin UI's users."""
    found = run(admins.list_users)
    if as_json:
        print_json([_user_object(user) for user in found])
        return
    listed = table("name", "role", "active", id_column("id"), "created")
    for user in found:
        created = user.created_at.strftime("%Y-%m-%d %H:%M")
        listed.add_row(user.name, user.role.value, "yes" if user.active else "no", user.id, created)
    show(listed)


def _user_object(user: AdminUser) -> dict[str, object]:
    return {
        "id": user.id,
        "object": "admin_user",
        "name": user.name,
        "role": user.role.value,
        "active": user.active,
        "created_at": timestamp(user.created_at),
        "updated_at": timestamp(user.updated_at),
    }
