"""What is particular to terminals (kiosks, payment terminals) on the wire."""

from __future__ import annotations

#: Where `kassa agent` connects (the field agents have their own paths, docs/terminals.md).
PATH = "/terminals/ws"
#: The operation kind of a card payment, routed to the kiosk's payment gateway.
PAYMENT_KIND = "payment"
