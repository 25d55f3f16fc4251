"""Kassa's services: what the web layer, the CLI, the worker and the front-ends call. They own
transactions.

Grouped by capability: `payments` (and refunds), `notifications`, `events`, `webhooks`,
`devices` (terminals), `shops` (and API keys), `admin` (users, sign-in, audit), `operations`
(background jobs, integrity, vitals), and `analytics`. Beside them, what every capability uses:
`callers` (who acts: the one caller type every service takes), `context` (database, settings,
providers, clock), `objects` (objects as events carry them and the API shows them),
`pagination` (one `Page[T]`), `idempotency` (for any front-end), `encryption` (secrets at
rest), `gateways` (provider instances) and `client_keys`.
"""
