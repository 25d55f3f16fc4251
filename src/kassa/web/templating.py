"""The Jinja2 environment for Kassa's pages: autoescaped, translated, with money formatting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from kassa.web.confirmations import TEMPLATE_GLOBALS as CONFIRMATION_GLOBALS
from kassa.web.i18n import (
    current_locale,
    format_duration,
    format_money,
    format_time,
    gettext_,
    ngettext_,
    use_locale,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        enable_async=False,
    )
    env.install_gettext_callables(gettext_, ngettext_, newstyle=True)  # type: ignore[attr-defined]
    env.globals["money"] = format_money
    env.globals["when"] = format_time
    env.globals["duration"] = format_duration
    env.globals["current_locale"] = current_locale
    env.globals.update(CONFIRMATION_GLOBALS)
    return env


class Pages:
    """Renders templates in a locale."""

    def __init__(self) -> None:
        self.env = build_environment()

    def render(
        self, name: str, *, locale: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        with use_locale(locale):
            html = self.env.get_template(name).render(locale=locale, **context)
        return HTMLResponse(html, status_code=status_code)
