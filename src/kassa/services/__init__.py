"""Kassa's services: what the web layer, the CLI, the worker and the front-ends call. They own
transactions.

Grouped by capability: `payments` (and refunds), `notifications`, `events`, `webhooks`,
`devices` (terminals), `shops` (and API keys), `admin` (users, sign-in, audit), `operations`
(background jobs, integrity, vitals), and `analytics`. Beside them, what every capability uses:
`context` (database, settings, providers, clock), `objects` (objects as the API shows them),
`pagination`, `idempotency`, `encryption` (secrets at rest), `gateways` (provider instances),
`scopes` (who a payment operation is done for) and `client_keys`.
"""
