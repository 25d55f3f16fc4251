"""Kaspi (Kazakhstan): QR payments through the QR partner API, polled for their status, and
the check/pay protocol through which Kaspi asks Kassa about a bill and pays it.

`provider.py` is the HTTP glue and the reading of check/pay requests; `wire.py` the wire
formats and how Kassa reads Kaspi's statuses. Kassa's record of check/pay transactions is
`kassa.services.providers.kaspi`.
"""

from kassa.providers.kaspi.provider import KaspiProvider

__all__ = ["KaspiProvider"]
