"""Alembic environment for skloop's schema.

Run through :func:`skloop.store.upgrade_database` (``skloop db upgrade``), which passes
an open connection in ``config.attributes["connection"]``; there is no alembic.ini.
"""

from __future__ import annotations

from alembic import context

from skloop.store._schema import full_metadata

metadata = full_metadata()

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("skloop's migrations run through skloop.store.upgrade_database(url)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=config.get_main_option("version_table") or "skloop_schema_version",
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
