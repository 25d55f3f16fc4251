"""The domain's public face: everything listed, sorted, importable."""

from __future__ import annotations

import kassa.domain


def test_all_is_sorted_and_complete() -> None:
    names = kassa.domain.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    for name in names:
        assert hasattr(kassa.domain, name), name
