"""The entry of a packaged build of the club agent (docs/club-agent.md, "A packaged build"):
`kassa-club-agent.exe` is `kassa club-agent`, with the same options. A leading `club-agent`
is accepted and dropped, so `kassa-club-agent.exe club-agent` (what register-club-agent.ps1
runs) is the same too; the watchdog starts the same executable with `--ui-only` for the UI."""

import sys

from kassa.clubagent.command import main

if __name__ == "__main__":
    if sys.argv[1:2] == ["club-agent"]:
        del sys.argv[1]
    main()
