"""Club sessions' pure rules: what a PC's silence means, a lease's end, what the unplayed tail
of a session's charges gives back; and a lease on the wire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kassa.domain.club_sessions import Charge, give_back, lease_end, liveness
from kassa.protocol.club import Lease

NOW = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("silent", "expected"),
    [(0, "online"), (14, "online"), (15, "stale"), (59, "stale"), (60, "offline")],
)
def test_a_pcs_silence_makes_it_stale_then_offline(silent: int, expected: str) -> None:
    assert liveness(NOW - timedelta(seconds=silent), NOW) == expected
    assert liveness(None, NOW) == "offline"


def test_a_lease_ends_at_the_paid_time_or_lease_max_from_now_whichever_is_sooner() -> None:
    assert lease_end(NOW + timedelta(hours=1), NOW, 300) == NOW + timedelta(seconds=300)
    assert lease_end(NOW + timedelta(seconds=90), NOW, 300) == NOW + timedelta(seconds=90)


CHARGES = [
    Charge(
        0,
        [
            {"kind": "package", "seconds": 600, "amount": 0, "holding_id": "hold_1"},
            {"kind": "time_bank", "seconds": 300, "amount": 0, "holding_id": None},
            # 150 s of the balance: 3 minutes charged (the last one started, charged whole).
            {"kind": "balance", "seconds": 150, "amount": 300, "holding_id": None},
        ],
    ),
    Charge(1050, [{"kind": "balance", "seconds": 600, "amount": 1000, "holding_id": None}]),
]


@pytest.mark.parametrize(
    ("unplayed", "amount", "time_bank", "holdings"),
    [
        (0, 0, 0, {}),
        (59, 0, 0, {}),  # the minute started is charged whole
        (60, 100, 0, {}),
        (600, 1000, 0, {}),
        (600 + 150, 1000 + 300, 0, {}),
        (600 + 150 + 100, 1300, 100, {}),
        (600 + 150 + 300 + 250, 1300, 300, {"hold_1": 250}),
        (10_000, 1300, 300, {"hold_1": 600}),
    ],
)
def test_the_unplayed_tail_comes_back_in_reverse_order(
    unplayed: int, amount: int, time_bank: int, holdings: dict[str, int]
) -> None:
    back = give_back(CHARGES, unplayed)
    assert (back.amount, back.time_bank, back.holdings) == (amount, time_bank, holdings)


def test_a_lease_travels_as_its_data() -> None:
    lease = Lease("sess_1", NOW + timedelta(hours=1), NOW + timedelta(minutes=5), 7)
    data = lease.to_data()
    assert data == {
        "session": "sess_1",
        "paid_until": "2026-12-06T21:00:00Z",
        "lease_expires_at": "2026-12-06T20:05:00Z",
        "seq": 7,
    }
    assert Lease.from_data(data) == lease
    assert Lease.from_data({"session": None, "seq": 0}) == Lease(None, None, None, 0)
    with pytest.raises(ValueError, match="seq"):
        Lease.from_data({"session": "x", "seq": True})
