"""The short cache of values read on every request: kept `ttl` seconds, and bounded."""

from __future__ import annotations

from kassa.services.context import ShortCache


def test_values_expire_and_the_cache_never_grows_past_its_bound() -> None:
    now = [0.0]
    cache: ShortCache[str, int] = ShortCache(ttl=5.0, clock=lambda: now[0], max_items=3)
    for n in range(3):
        cache.put(f"k{n}", n)
    assert (cache.get("k1"), len(cache)) == (1, 3)
    cache.put("k1", 10)  # a key it has: nothing dropped
    assert (cache.get("k0"), cache.get("k1"), len(cache)) == (0, 10, 3)

    now[0] = 6.0
    assert cache.get("k0") is None  # expired
    cache.put("k3", 3)  # full: the expired ones go
    assert (len(cache), cache.get("k3")) == (1, 3)

    for n in range(4, 7):  # full of fresh ones (keys from requests): all go
        cache.put(f"k{n}", n)
    assert len(cache) == 1
    assert cache.get("k6") == 6
