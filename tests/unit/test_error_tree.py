"""The error tree drawn in `kassa.domain.errors`' docstring is the true one: it names every
error class of the domain, each under its own parent, with its code and its HTTP status."""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass

import pytest

import kassa.domain
from kassa.domain import errors
from kassa.domain.errors import KassaError
from kassa.web.errors import status_of

#: A line of the drawing: the branches, the class, its code, its status, what it means.
LINE = re.compile(
    r"(?P<branches>[│├└─ ]*)(?P<name>[A-Z]\w*) +(?P<code>[a-z_]+) +(?P<status>\d{3})\b"
)
#: The drawing's indentation per level (`├── `).
LEVEL = 4


@dataclass(frozen=True)
class Drawn:
    name: str
    parent: str | None
    code: str
    status: int


def drawn_tree(doc: str) -> dict[str, Drawn]:
    """The classes the docstring draws, by name; the drawing starts after its header line
    (`class  code  HTTP`) and ends at the first line that is not part of it."""
    lines = doc.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split() == ["class", "code", "HTTP"])
    indent = len(lines[header]) - len(lines[header].lstrip())
    drawn: dict[str, Drawn] = {}
    parents: list[str] = []
    for line in lines[header + 1 :]:
        match = LINE.match(line[indent:])
        if not line.strip() or match is None:
            break
        depth, remainder = divmod(len(match["branches"]), LEVEL)
        assert remainder == 0, f"the branches before {match['name']} are not whole levels"
        assert depth <= len(parents), f"{match['name']} is drawn deeper than under a parent"
        del parents[depth:]
        name = match["name"]
        assert name not in drawn, f"{name} is drawn twice"
        drawn[name] = Drawn(
            name, parents[-1] if parents else None, match["code"], int(match["status"])
        )
        parents.append(name)
    return drawn


def domain_errors() -> dict[str, type[KassaError]]:
    """Every error class of the domain: `KassaError` and each of its subclasses defined in
    a module of `kassa.domain` (all of them imported first)."""
    for module in pkgutil.walk_packages(kassa.domain.__path__, "kassa.domain."):
        importlib.import_module(module.name)
    found: dict[str, type[KassaError]] = {}
    todo: list[type[KassaError]] = [KassaError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("kassa.domain"):
            assert cls.__name__ not in found, f"two error classes are called {cls.__name__}"
            found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found


DRAWN = drawn_tree(errors.__doc__ or "")
CLASSES = domain_errors()


def test_the_drawing_is_read() -> None:
    assert DRAWN["KassaError"].parent is None
    assert DRAWN["SignatureInvalid"].parent == "NotificationRejected"


def test_every_error_class_is_drawn() -> None:
    assert sorted(set(CLASSES) - set(DRAWN)) == [], "error classes missing from the drawing"


def test_every_drawn_class_exists() -> None:
    assert sorted(set(DRAWN) - set(CLASSES)) == [], "the drawing names classes that do not exist"


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_each_class_is_drawn_as_it_is(name: str) -> None:
    cls, drawn = CLASSES[name], DRAWN[name]
    bases = [base for base in cls.__bases__ if issubclass(base, KassaError)]
    assert [base.__name__ for base in bases] == ([drawn.parent] if drawn.parent else [])
    assert cls.code == drawn.code
    # The status of an instance made without running `__init__` (whose arguments vary).
    assert status_of(cls.__new__(cls)) == drawn.status


def test_a_missing_class_is_caught() -> None:
    """The check is not vacuous: a drawing without a class, or with an extra one, differs."""
    doc = errors.__doc__ or ""
    without = "\n".join(line for line in doc.splitlines() if "TerminalUnavailable" not in line)
    assert "TerminalUnavailable" not in drawn_tree(without)
    rate_limited = "    ├── RateLimited"
    extra = doc.replace(rate_limited, f"    ├── Imaginary  imaginary  400\n{rate_limited}")
    assert drawn_tree(extra)["Imaginary"].parent == "KassaError"
