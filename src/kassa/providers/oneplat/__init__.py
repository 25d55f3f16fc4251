"""1Plat (1plat.cash): card and SBP payments by transfer to requisites 1Plat issues, callbacks
signed with MD5 (`signature_v2`) or HMAC (`signature`) and confirmed by re-reading the order.

`provider.py` is the HTTP glue; `wire.py` the wire format, how Kassa reads 1Plat's statuses,
and which of those facts are unverified (1Plat's own documentation could not be read).
"""

from kassa.providers.oneplat.provider import OnePlatProvider

__all__ = ["OnePlatProvider"]
