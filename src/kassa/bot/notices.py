"""The renderers of the messages background jobs write for a bot (`outbox.RENDERERS`): the
buyers' reminders before and at their subscription's end (`kassa.services.bot.reminders`),
with a button to renew, and the owners' alerts as they start and clear
(`kassa.services.bot.alerts`). Importing this module registers them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from kassa.bot import menu
from kassa.bot.outbox import RENDERERS, Rendered
from kassa.bot.texts import Texts
from kassa.services.bot import alerts, reminders


def _reminder(kind: str) -> Any:
    def render(texts: Texts, params: Mapping[str, Any]) -> Rendered:
        _ = texts.gettext
        trial = bool(params.get("trial"))
        if kind == reminders.ENDS_IN_3D:
            text = (
                _("Your free trial ends in 3 days, on %(ends_at)s.")
                if trial
                else _("Your subscription ends in 3 days, on %(ends_at)s.")
            )
        elif kind == reminders.ENDS_IN_1D:
            text = (
                _("Your free trial ends tomorrow, on %(ends_at)s.")
                if trial
                else _("Your subscription ends tomorrow, on %(ends_at)s.")
            )
        else:
            text = _("Your free trial has ended.") if trial else _("Your subscription has ended.")
        ends_at = texts.time(datetime.fromisoformat(params["ends_at"]))
        plan_id = params.get("plan_id")
        if trial or not plan_id:
            button = InlineKeyboardButton(text=_("Choose a plan"), callback_data=menu.CATALOG)
        else:
            button = InlineKeyboardButton(text=_("Renew"), callback_data=menu.plan_data(plan_id))
        return Rendered(
            text % {"ends_at": ends_at}, InlineKeyboardMarkup(inline_keyboard=[[button]])
        )

    return render


def _started(texts: Texts, params: Mapping[str, Any]) -> Rendered:
    _ = texts.gettext
    kind = params["kind"]
    if kind == "payments_overdue":
        text = _(
            "%(shop)s: %(count)s pending payments are past their expiry (the earliest since "
            "%(since)s). Is Kassa's background work running, and can it reach the provider?"
        )
    elif kind == "payments_held":
        text = _(
            "%(shop)s: the money of %(count)s payments has been held since %(since)s: capture "
            "or cancel them before the hold lapses."
        )
    elif kind == "webhook_failing":
        text = _(
            "%(shop)s: every webhook to endpoint %(endpoint)s has failed since %(since)s "
            "(%(undelivered)s events wait)."
        )
    else:
        text = _(
            "%(shop)s: terminal %(terminal)s is offline while %(payments)s payments wait for "
            "it (since %(since)s)."
        )
    return Rendered("⚠️ " + _with_mode(texts, text % _figures(texts, params), params))


def _cleared(texts: Texts, params: Mapping[str, Any]) -> Rendered:
    _ = texts.gettext
    kind = params["kind"]
    if kind == "payments_overdue":
        text = _("%(shop)s: no pending payment is past its expiry any more.")
    elif kind == "payments_held":
        text = _("%(shop)s: no payment's money is held too long any more.")
    elif kind == "webhook_failing":
        text = _("%(shop)s: webhook endpoint %(endpoint)s is no longer failing.")
    else:
        text = _("%(shop)s: no payment waits for offline terminal %(terminal)s any more.")
    return Rendered("✅ " + _with_mode(texts, text % _figures(texts, params), params))


def _figures(texts: Texts, params: Mapping[str, Any]) -> dict[str, Any]:
    figures = dict(params)
    figures["since"] = texts.time(datetime.fromisoformat(params["since"]))
    return figures


def _with_mode(texts: Texts, text: str, params: Mapping[str, Any]) -> str:
    return f"{text} {texts.gettext('(test mode)')}" if params.get("test") else text


RENDERERS.update({kind: _reminder(kind) for kind in reminders.KINDS})
RENDERERS.update({alerts.STARTED: _started, alerts.CLEARED: _cleared})
