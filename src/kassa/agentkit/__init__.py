"""The agent kit: what every Kassa agent on a device needs, whatever the device does.

- `link`: the WebSocket to the hub, reconnecting with capped, jittered backoff (`backoff`) and
  reading the hub's refusals and close codes;
- `journal`: the durable journal that runs each operation at most once across reconnects,
  restarts and crashes;
- `agent`: the `Agent` base (operations journaled, run, answered and acknowledged; recovery at
  start-up; the graceful drain on SIGTERM), which a kind of device subclasses;
- `health`: the loopback health endpoint; `logs`: the console and a file per day; `stats`: the
  counters.

It knows nothing of kiosks or any other device: the kiosk agent (`kassa.agent`) is its first
user. It imports only `kassa.protocol` of Kassa and needs only websockets besides the standard
library, so an agent installs with a small extra.
"""
