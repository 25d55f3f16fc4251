"""The outcomes Kassa stores, said in the admin page's language: every form the domain and
the services write is known (so none is left in English on a Russian page), and anything
else is shown as it is, marked as English and escaped."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from kassa.domain import Money, PaymentUpdate, decide
from kassa.services.notifications.applying import NO_SUCH_PAYMENT
from kassa.web.admin.outcomes import outcome
from kassa.web.i18n import use_locale
from tests.unit.test_updates import PAYMENT, S

#: What `decide` says, for each kind of decision.
DECISIONS = [
    decide(PAYMENT, PaymentUpdate(status=S.SUCCEEDED)).outcome,
    decide(PAYMENT, PaymentUpdate(status=S.PENDING)).outcome,
    decide(PAYMENT, PaymentUpdate(status=S.REFUNDED)).outcome,
    decide(replace(PAYMENT, status=S.SUCCEEDED), PaymentUpdate(status=S.PENDING)).outcome,
    decide(replace(PAYMENT, status=S.CANCELED), PaymentUpdate(status=S.SUCCEEDED)).outcome,
    decide(PAYMENT, PaymentUpdate(status=S.SUCCEEDED, amount=Money(5, "RUB"))).outcome,
    decide(PAYMENT, PaymentUpdate(status=S.SUCCEEDED, amount_captured=2000)).outcome,
]
#: What the services and the admin pages write.
SERVICES = [
    NO_SUCH_PAYMENT,
    "nothing to apply",
    "the same event was accepted before",
    "no enabled sandbox account for shop 'demo'",
    "refund pending → succeeded",
    "no change: refund already succeeded",
    "no change: refund still pending; provider id kept",
    "recorded a refund made at the provider",
    "rejected: a refund of 50000 exceeds what the payment has left",
    "refused: it is accepted",
    "refused: not possible now",
    "no change",
    "succeeded",
    "Disabled by the shop",
    "pending → succeeded; refund pending → succeeded",
]


@pytest.mark.parametrize("text", DECISIONS + SERVICES)
def test_every_form_kassa_writes_is_said_in_russian(text: str) -> None:
    with use_locale("ru"):
        said = str(outcome(text))
    assert 'lang="en"' not in said, said
    words = re.sub(r"\b(RUB|demo)\b", "", said)  # a currency's code and a shop's name
    assert not re.search("[A-Za-z]", words), said


def test_the_statuses_are_named() -> None:
    with use_locale("ru"):
        assert outcome("pending → succeeded") == "Ожидает → Успешно"
        assert outcome("no change: already succeeded") == "без изменений: уже успешно"
    with use_locale("en"):
        assert outcome("pending → succeeded") == "Pending → Succeeded"


def test_the_rest_is_shown_as_written_and_escaped() -> None:
    with use_locale("ru"):
        assert outcome("bad <b>signature</b>") == (
            '<span lang="en" translate="no">bad &lt;b&gt;signature&lt;/b&gt;</span>'
        )
        assert outcome("timeout; will be retried") == (
            '<span lang="en" translate="no">timeout</span>; будет повторено'
        )
        assert outcome("refused: Amount is too large") == (
            'отказано: <span lang="en" translate="no">Amount is too large</span>'
        )
        assert outcome(None) == ""
