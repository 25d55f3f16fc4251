"""Names people read for values Kassa stores, in the page's language, for the templates
(as globals; `_labels.html` uses them) and for `outcomes`."""

from __future__ import annotations

from kassa.services.catalog import PROVIDERS
from kassa.web.i18n import gettext_ as _


def status_name(value: str) -> str:
    """A payment's, refund's, delivery's or notification's status, or what an audit entry
    says came of it (`created`, `updated`); anything else as it is."""
    names = {
        "pending": _("Pending"),
        "requires_capture": _("Awaiting capture"),
        "succeeded": _("Succeeded"),
        "canceled": _("Canceled"),
        "failed": _("Failed"),
        "expired": _("Expired"),
        "refunded": _("Refunded"),
        "accepted": _("Accepted"),
        "duplicate": _("Duplicate"),
        "rejected": _("Rejected"),
        "created": _("Created"),
        "updated": _("Updated"),
    }
    return names.get(value, value)


def provider_title(name: str) -> str:
    """A provider's title (`Sandbox`, `YooKassa`) in the page's language; an unknown
    provider's name as it is."""
    cls = PROVIDERS.get(name)
    return _(cls.title) if cls is not None else name


def counter_name(name: str) -> str:
    """A terminal agent's counter (`requests`, `failures`…); an unknown one as it is."""
    names = {
        "requests": _("Operations"),
        "successes": _("Succeeded"),
        "failures": _("Failed"),
        "reconnects": _("Reconnections"),
        "errors": _("Errors"),
        "messages_received": _("Messages received"),
        "messages_sent": _("Messages sent"),
        "uptime_seconds": _("Running for"),
    }
    return names.get(name, name)
