"""The club PC's agent (`kassa club-agent`, docs/club-agent.md): the lock screen and launcher a
customer sees, and the core that keeps the PC's time honest against the hub.

Two processes. The watchdog (`watchdog`, what `kassa club-agent` and the Windows autostart
run) starts the UI process and starts it again within a second if it dies, telling the hub
("agent killed while in use") when a session was playing. The UI process (`app`) runs the Qt
windows (`ui`) on the main thread and the core (`core`) in an asyncio thread; `model` is the
seam between the two.

The core is built on the agent kit (`kassa.agentkit`: the link with backoff, the operations'
journal, logs) and the club's protocol (`kassa.protocol.club`, `kassa.protocol.club_pc`). Like
every agent it imports nothing of the hub's layers, so it installs alone:
`pip install 'kassa[club-agent]'`.
"""
