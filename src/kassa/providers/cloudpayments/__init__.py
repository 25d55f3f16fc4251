"""CloudPayments (Russia), and TipTopPay (Kazakhstan, the same platform with its own widget host).

Kept as Hyperswitch keeps a connector: `provider.py` is the HTTP glue (the calls, the answers
to notifications, the payer page's widget), `wire.py` the wire format (amounts, signatures,
statuses, the API's answers), `notifications.py` the reading of what CloudPayments posts, and
`widget.js` the script that opens CloudPayments' widget on Kassa's payer page.
"""

from kassa.providers.cloudpayments.provider import CloudPaymentsProvider

__all__ = ["CloudPaymentsProvider"]
