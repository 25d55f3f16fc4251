"""The club's fixtures (a club of a new shop, the hub's clock stopped), for the agent's tests
against the real hub."""

from tests.club.conftest import clock, club  # noqa: F401
