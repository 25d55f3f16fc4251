"""YooKassa (API v3): one- and two-stage payments, refunds, and unsigned notifications.

`provider.py` is the HTTP glue (the calls, re-reading what a notification is about, what
`kassa simulate` sends); `wire.py` the wire format and how Kassa reads YooKassa's statuses.
"""

from kassa.providers.yookassa.provider import YooKassaProvider

__all__ = ["YooKassaProvider"]
