"""`python -m kassa.agent`: the same as `kassa agent`."""

from kassa.cli.agent import main

main()
