"""Alembic environment: runs on the connection handed over by `sites.migrate`."""

from alembic import context

import sites.models  # noqa: F401 - registers every table on the metadata
from sites.extensions import db

config = context.config
connection = config.attributes["connection"]
context.configure(connection=connection, target_metadata=db.metadata,
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
with context.begin_transaction():
    context.run_migrations()
