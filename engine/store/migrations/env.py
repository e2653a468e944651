"""Alembic environment for the run store.

The store runs migrations in code (``runbook_engine.store._engine.migrate``) and hands
its own connection over in ``config.attributes["connection"]``, already inside
the transaction that holds the migration lock. Without one (a developer
generating a revision), it connects to the default store.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from runbook_engine.store._engine import create_store_engine, resolve_url
from runbook_engine.store._tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_offline() -> None:
    url = resolve_url(context.config.get_main_option("sqlalchemy.url"))
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    given = context.config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
        return
    engine = create_store_engine(resolve_url(context.config.get_main_option("sqlalchemy.url")))
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
