"""What came of a notification or an action, in the reader's language.

The services store outcomes and reasons as English text (`pending → succeeded`, `no change:
already succeeded`, `refused: …`), which logs, the API and the CLI read as it is. The admin
pages show them through `outcome()`, which knows the forms the services write and says them
with the statuses' names in the page's language. Text it does not know — a provider's or a
library's own diagnostic, such as why a signature did not verify — is shown as it is, marked
as English (`lang="en"`, `translate="no"`), so that it is read right and left untranslated.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from markupsafe import Markup, escape

from kassa.domain.translatable import N_
from kassa.web.admin.names import provider_title, status_name
from kassa.web.i18n import gettext_ as _

#: What to say for a match, or None if the form does not apply after all.
Say = Callable[[re.Match[str]], str | None]


def as_written(text: str) -> Markup:
    """Text shown as it is: English that Kassa does not translate."""
    return Markup('<span lang="en" translate="no">%s</span>') % text


def _moved(message: str) -> Say:
    return lambda m: _(message) % {"was": status_name(m[1]), "now": status_name(m[2])}


def _one_status(message: str) -> Say:
    return lambda m: _(message) % {"status": status_name(m[1]).lower()}


def _fixed(message: str) -> Say:
    return lambda _m: _(message)


#: The forms the services write (`domain/updates.py`, `services/notifications/inbound.py`,
#: `services/notifications/applying.py`, `services/payments/refunds.py`, the admin pages' audit
#: entries), each matched against the whole text, with what to say.
FORMS: tuple[tuple[re.Pattern[str], Say], ...] = tuple(
    (re.compile(pattern), say)
    for pattern, say in (
        (r"(\w+) → (\w+)", lambda m: f"{status_name(m[1])} → {status_name(m[2])}"),
        (r"refund (\w+) → (\w+)", _moved(N_("refund: %(was)s → %(now)s"))),
        (r"no change", _fixed(N_("no change"))),
        (r"no change: already (\w+)", _one_status(N_("no change: already %(status)s"))),
        (
            r"no change: refund already (\w+)",
            _one_status(N_("no change: the refund is %(status)s")),
        ),
        (
            r"no change: refund still pending; provider id kept",
            _fixed(N_("no change: the refund is still pending")),
        ),
        (
            r"no change: refund settled concurrently",
            _fixed(N_("no change: the refund was settled meanwhile")),
        ),
        (
            r"no change: the refund is recorded already",
            _fixed(N_("no change: the refund is recorded")),
        ),
        (
            r"no change: unknown refund reported (\w+)",
            _one_status(N_("no change: an unknown refund reported %(status)s")),
        ),
        (
            r"no change: refunds are applied from refund updates",
            _fixed(N_("no change: refunds are applied from refund updates")),
        ),
        (
            r"rejected: (\w+) → (\w+) is not allowed",
            _moved(N_("rejected: %(was)s → %(now)s is not allowed")),
        ),
        (
            r"rejected: (\w+) → (\w+) is not allowed \(an older answer\)",
            _moved(N_("rejected: %(was)s → %(now)s is not allowed (an older answer)")),
        ),
        (r"rejected: refund (\w+) → (\w+)", _moved(N_("rejected: refund %(was)s → %(now)s"))),
        (
            r"rejected: provider reports (.+), payment is for (.+)",
            lambda m: (
                _("rejected: the provider reports %(reported)s, the payment is for %(amount)s")
                % {"reported": m[1], "amount": m[2]}
            ),
        ),
        (
            r"rejected: captured (-?\d+) is outside 1\.\.(\d+)",
            lambda m: (
                _("rejected: the captured amount %(captured)s is not within 1…%(amount)s")
                % {"captured": m[1], "amount": m[2]}
            ),
        ),
        (
            r"rejected: a refund of (\d+) exceeds what the payment has left",
            lambda m: (
                _("rejected: a refund of %(amount)s exceeds what the payment has left")
                % {"amount": m[1]}
            ),
        ),
        (r"ignored: no such payment", _fixed(N_("ignored: no such payment"))),
        (r"nothing to apply", _fixed(N_("nothing to apply"))),
        (
            r"recorded a refund made at the provider",
            _fixed(N_("recorded a refund made at the provider")),
        ),
        (r"the same event was accepted before", _fixed(N_("the same event was accepted before"))),
        (
            r"no enabled (\w+) account for shop '(.*)'",
            lambda m: (
                _("no enabled %(provider)s account for the shop %(shop)s")
                % {"provider": provider_title(m[1]), "shop": m[2]}
            ),
        ),
        (r"refused: it is (\w+)", _one_status(N_("refused: it is %(status)s"))),
        (r"Disabled by the shop", _fixed(N_("Disabled by the shop"))),
        (r"refused: not possible now", _fixed(N_("refused: not possible now"))),
        (r"\w+", lambda m: status_name(m[0]) if status_name(m[0]) != m[0] else None),
    )
)

#: Forms with a part Kassa does not translate (a provider's, a library's or a service's own
#: words); the first two are tried before outcomes joined by `; ` are split.
TAILS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), message)
    for pattern, message in (
        (
            r"Every delivery failed for (?P<days>\d+) days \(the last: (?P<why>.+)\); fix the "
            r"endpoint, then enable it again",
            N_(
                "Every delivery failed for %(days)s days (the last: %(why)s); fix the "
                "endpoint, then enable it again"
            ),
        ),
        (r"(?P<why>.+); will be retried", N_("%(why)s; will be retried")),
        (r"refused: (?P<why>.+)", N_("refused: %(why)s")),
        (r"no change: (?P<why>.+)", N_("no change: %(why)s")),
    )
)


def outcome(text: str | None) -> Markup:
    """`text` in the page's language if it is a form Kassa writes, else as it is, marked as
    English; outcomes joined by `; ` are said one by one."""
    if not text:
        return Markup("")
    for pattern, say in FORMS:
        match = pattern.fullmatch(text)
        if match and (said := say(match)) is not None:
            return escape(said)
    for number, (pattern, message) in enumerate(TAILS):
        if number == 2 and "; " in text:
            return Markup("; ").join(outcome(part) for part in text.split("; "))
        match = pattern.fullmatch(text)
        if match:
            parts = match.groupdict()
            why = outcome(parts["why"]) if number == 1 else as_written(parts["why"])
            return escape(_(message)) % {**parts, "why": why}
    return as_written(text)
