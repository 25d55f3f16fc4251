"""Storage: tables, the database connection, migrations. Imports only `domain`."""

from kassa.store.db import Database
from kassa.store.migrate import upgrade

__all__ = ["Database", "upgrade"]
