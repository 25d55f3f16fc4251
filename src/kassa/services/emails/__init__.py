"""Receipt e-mails to customers: when a payment succeeds or a refund of it does, the customer
(`customer_email` of the payment) gets an e-mail in the shop's language, plain text and HTML,
from the shop's sender address, through the SMTP server of `KASSA_SMTP_URL`.

An event consumer (`receipts.CONSUMER`) writes one row per event into `receipt_emails`, in
the transaction of its receipt, so each event gets at most one; a background job
(`receipts.send_due`) sends the rows due (`smtp`), rendered from templates (`letters`).
"""
