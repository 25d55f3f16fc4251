"""`python -m kassa`: the same as the `kassa` command."""

from kassa.cli import main

main()
