"""The kiosk edge agent (`kassa agent`): dials out to the hub over `/terminals/ws`, runs the
operations it receives against local services (card gateway, fiscal printer, kitchen display)
and sends back their results, exactly once per operation even across restarts.

It depends only on the standard library, websockets, httpx, PyYAML and python-dotenv (the
`agent` extra), never on the hub's own modules, so a kiosk installs `kassa[agent]` alone.
The wire contract is docs/terminal-protocol.md; the operator's guide is docs/agent.md.
"""
