"""The engine's PostgreSQL store (asyncpg): migrations, call records, agent
log, ratings, ticket outbox, recording metadata, config versions, audit log.
"""

from cti.store.db import Database
from cti.store.migrate import available as available_migrations
from cti.store.migrate import migrate

__all__ = ["Database", "available_migrations", "migrate"]
