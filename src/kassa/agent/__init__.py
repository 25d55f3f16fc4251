"""The kiosk edge agent (`kassa agent`): dials out to the hub over `/terminals/ws`, runs the
operations it receives against local services (card gateway, fiscal printer, kitchen display)
and sends back their results, exactly once per operation even across restarts.

Only what is particular to kiosks is here: the settings (`config`), where each kind of operation
goes (`routing`), the calls to the local services (`local`), the kiosk's `Agent` (`runner`), the
set-up check (`check`) and the command (`command`). The link, journal, health endpoint, logs
and life cycle are the agent kit's (`kassa.agentkit`), the wire format `kassa.protocol`'s.

It imports nothing else of Kassa, and needs only the standard library, websockets, httpx,
PyYAML, python-dotenv, Typer and Rich (the `agent` extra), so a kiosk installs `kassa[agent]`
alone. The wire contract is docs/terminal-protocol.md; the operator's guide is docs/agent.md.
"""
