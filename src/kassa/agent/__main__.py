"""`python -m kassa.agent`: the same as `kassa agent`."""

from kassa.agent.command import main

main()
