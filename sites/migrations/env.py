"""Alembic environment: runs on the connection handed over by `sites.migrate`."""

from alembic import context

import sites.models  # noqa: F401 - registers every table on the metadata
from sites.extensions import db

config = context.config
connection = config.attributes["connection"]


def _include_object(obj: object, name: str | None, type_: str, reflected: bool,
                    compare_to: object | None) -> bool:
    """Leave out of autogenerate the full-text index tables made by hand in 0001."""
    return not (type_ == "table" and reflected and compare_to is None
                and (name or "").startswith("search_index"))


context.configure(connection=connection, target_metadata=db.metadata,
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True,
                  include_object=_include_object)
with context.begin_transaction():
    context.run_migrations()
