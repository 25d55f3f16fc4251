"""Payments and refunds: creating and moving payments (`lifecycle`), refunds (`refunds`),
finding them for operators (`search`), re-checking open ones with their provider
(`reconciliation`), expiring them (`expiry`), and the sandbox's own acquirer
(`sandbox_acquirer`)."""
