"""The README's list of `kassa` commands matches the CLI: every command and subcommand is
listed, once, and nothing is listed that the CLI does not have."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import typer

from kassa.cli.main import app

README = Path(__file__).resolve().parents[2] / "README.md"


def listed_commands() -> list[str]:
    """`group sub` (or `command`) for each entry of the README's `kassa` command block; a
    line lists several of one group, separated by ` | `, the group named once."""
    block = re.search(r"## The `kassa` command\s+```\n(.*?)```", README.read_text(), re.S)
    assert block, "the README has no `kassa` command block"
    found = []
    for line in block.group(1).splitlines():
        words = line.split()
        assert words[0] == "kassa", line
        group = words[1]
        # Only the part before the description (two spaces or more) lists commands.
        usage = re.split(r"\s{2,}", line.strip())[0]
        for number, part in enumerate(usage.split(" | ")):
            tokens = part.split()
            if number == 0:
                tokens = tokens[1:]
            if tokens and tokens[0] == group:
                tokens = tokens[1:]
            sub = tokens[0] if tokens and re.fullmatch(r"[a-z][a-z-]*", tokens[0]) else None
            found.append(f"{group} {sub}" if sub else group)
    return found


def cli_commands() -> set[str]:
    # Typer brings its own copy of click: groups are known by their `commands`.
    root = typer.main.get_command(app)
    names = set()
    for name, command in getattr(root, "commands", {}).items():
        if hasattr(command, "commands"):
            names |= {f"{name} {sub}" for sub in command.commands}
            if command.invoke_without_command:  # a group that runs itself too: `kassa bot`
                names.add(name)
        else:
            names.add(name)
    return names


def test_the_readme_lists_every_command_once() -> None:
    listed = listed_commands()
    assert [name for name, count in Counter(listed).items() if count > 1] == []
    assert sorted(cli_commands() - set(listed)) == []
    assert sorted(set(listed) - cli_commands()) == []
