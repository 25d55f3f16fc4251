"""Crypto Pay (@CryptoBot): invoices in crypto (USDT, TON, BTC) or in fiat, paid in Telegram;
webhooks signed with the app's token; cancel by deleting the invoice; no refunds.

`provider.py` is the HTTP glue (the calls, webhooks, what `kassa simulate` sends); `wire.py`
the wire format and how Kassa reads an invoice's status.
"""

from kassa.providers.cryptopay.provider import CryptoPayProvider

__all__ = ["CryptoPayProvider"]
