"""The owner's commands' pure parts: the ids derived from a confirmation or a message (the
same for every tap, different for another), and the figures' fractions."""

from __future__ import annotations

from decimal import Decimal

from kassa.bot.owner import percent, refund_id
from kassa.services.bot.broadcasts import Counts, draft_id
from kassa.services.bot.owner import SubscriptionFigures


def test_a_confirmation_names_one_refund() -> None:
    first = refund_id("shop_a", 42, 7)
    assert first == refund_id("shop_a", 42, 7)
    assert first.startswith("re_")
    assert len(first) <= 40  # the ids' column
    others = {refund_id("shop_b", 42, 7), refund_id("shop_a", 43, 7), refund_id("shop_a", 42, 8)}
    assert first not in others
    assert len(others) == 3


def test_a_message_drafts_one_broadcast() -> None:
    assert draft_id("shop_a", 42, 7) == draft_id("shop_a", 42, 7)
    assert draft_id("shop_a", 42, 7) != draft_id("shop_a", 42, 8)
    assert len(draft_id("shop_a", 42, 7)) <= 40
    assert draft_id("shop_a", 42, 7) != refund_id("shop_a", 42, 7).replace("re_", "bcast_")


def test_counts_and_fractions() -> None:
    counts = Counts(pending=2, sent=5, blocked=1, failed=1)
    assert (counts.total, counts.done) == (9, 7)
    assert SubscriptionFigures(3, 1, 0, 0).trial_conversion is None
    assert SubscriptionFigures(3, 1, 3, 1).trial_conversion == Decimal("0.3333")
    assert percent(Decimal("0.3333")) == "33%"
    assert percent(None) == "—"
