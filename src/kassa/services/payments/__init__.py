"""Payments and refunds: creating, reading and acting on payments as a caller asks
(`lifecycle`), every status change through the transition table (`transitions`), refunds
(`refunds`), finding them for operators (`search`), re-checking open ones with their provider
(`reconciliation`), expiring them (`expiry`), and the sandbox's own acquirer
(`sandbox_acquirer`) with its API (`sandbox_api`)."""
