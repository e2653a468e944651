"""Where the store lives and how to connect to it: URL resolution, engine creation,
SQLite pragmas, and migrating the schema when a store is opened."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from runbook_engine.errors import StoreError, StoreNotFound

if TYPE_CHECKING:
    # Alembic is imported only when a migration actually runs: it is most of the
    # import time of this package, and almost every open finds the schema current.
    from alembic.config import Config

__all__ = [
    "ENV_VAR",
    "SCHEMA_REVISION",
    "WRITE_OPTION",
    "Dialect",
    "alembic_config",
    "check_location",
    "create_store_engine",
    "current_revision",
    "default_data_dir",
    "describe",
    "json_dumps",
    "migrate",
    "open_engine",
    "resolve_url",
]

ENV_VAR = "RUNBOOK_DB"
"""Environment variable naming the store: a SQLAlchemy URL or a plain SQLite file path."""

WRITE_OPTION = "runbook_store_write"
"""Execution option marking a connection whose transactions will write (see ``_on_begin``)."""

Dialect = Literal["sqlite", "postgresql"]

SCHEMA_REVISION = "0005"
"""The newest migration's revision: a store at it needs no upgrade. Bump it with
every new migration (a test checks it against the migration scripts)."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another process's write transaction to finish."""

PG_CONNECT_TIMEOUT_S = 10
"""Fail fast with a clear error rather than hang when PostgreSQL is unreachable."""

# Key for pg_advisory_xact_lock around migrations; any constant 64-bit value
# unlikely to collide with another application's advisory locks will do.
_PG_MIGRATION_LOCK_KEY = 0x52_42_4B_45_4E_47_00_01

_SCHEMA_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_URL_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/runbook-engine``, else ``~/.local/share/runbook-engine``."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    # The XDG spec says relative values are invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "runbook-engine"


def resolve_url(url: str | None = None, *, create: bool = True) -> URL:
    """Turn what the user gave (or nothing) into a SQLAlchemy URL.

    ``None`` falls back to ``$RUNBOOK_DB`` and then to ``runbook.db`` in the data
    dir, whose folder is created on demand (with ``create``). A value without a
    ``scheme://`` is a SQLite file path; its folder is never created: a mistyped
    path must not become a new, empty store. ``postgresql://`` and ``postgres://``
    mean the psycopg 3 driver, the only PostgreSQL driver this project depends on.
    """
    if url is None:
        url = os.environ.get(ENV_VAR) or None
    if url is None:
        path = default_data_dir() / "runbook.db"
        if create:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the folder for the run store {path}: {exc}"
                ) from exc
        return _sqlite_file_url(path)
    if not _URL_SCHEME_RE.match(url):
        return _sqlite_file_url(Path(url))
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid store URL {url!r}: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "postgres" or (backend == "postgresql" and parsed.drivername == "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend == "postgresql" and parsed.get_driver_name() != "psycopg":
        raise StoreError(
            f"unsupported PostgreSQL driver {parsed.get_driver_name()!r}: "
            "use postgresql+psycopg://... (psycopg 3)"
        )
    elif backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        parsed = _sqlite_file_url(Path(parsed.database or ""), query=parsed.query)
    elif backend not in ("sqlite", "postgresql"):
        raise StoreError(
            f"unsupported store URL {parsed.render_as_string(hide_password=True)!r}: "
            "use sqlite:///PATH, postgresql+psycopg://... or a file path"
        )
    return parsed


def _sqlite_file_url(path: Path, query: Any = None) -> URL:
    return URL.create("sqlite", database=str(path.expanduser().resolve()), query=query or {})


def check_location(url: URL, given: str | None, *, create: bool) -> None:
    """Refuse a SQLite store whose folder does not exist, and without ``create`` one whose
    file does not exist, naming where the location came from. Connecting would create
    both, so a typo in ``RUNBOOK_DB`` would silently start an empty store."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    path = Path(url.database or "")
    if given is not None:
        source = f"store URL {given!r}"
    elif os.environ.get(ENV_VAR):
        source = f"{ENV_VAR}={os.environ[ENV_VAR]}"
    else:
        source = f"the default store; set {ENV_VAR} to use another"
    if not path.parent.is_dir():
        raise StoreNotFound(f"no folder {path.parent} for the run store ({source})", folder=True)
    if not create and not path.is_file():
        raise StoreNotFound(f"no store at {path} ({source}); a run creates it")


def json_dumps(value: Any) -> str:
    """Serialise a JSON column value identically on both backends, with orjson.

    orjson (rather than msgspec) because event payloads are plain dicts of unknown shape:
    it encodes them 3-5x faster than the standard library with no schema to declare. Both
    backends refuse the same values, with a ``StoreError`` rather than whatever the driver
    raises: anything that is not JSON, and NaN and infinities, which PostgreSQL's json type
    rejects and orjson would silently write as ``null``.
    """
    try:
        encoded = orjson.dumps(value).decode()
    except TypeError as exc:
        raise StoreError(f"cannot store a value as JSON: {exc}") from exc
    if "null" in encoded:
        # a null may be a NaN orjson replaced: let the strict encoder tell (rarely needed)
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"cannot store a value as JSON: {exc}") from exc
    return encoded


def json_loads(text: str | bytes) -> Any:
    return orjson.loads(text)


def create_store_engine(url: URL, *, schema: str | None = None) -> Engine:
    """Create the engine for ``url``; on SQLite, install pragmas and the BEGIN recipe.

    ``schema`` (PostgreSQL only) puts the store's tables in that schema by setting
    the connection's ``search_path``; it is created if missing when migrating.
    """
    backend = url.get_backend_name()
    if backend == "sqlite":
        if schema is not None:
            raise StoreError("a schema can only be given for a PostgreSQL store")
        sqlite_args: dict[str, Any] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        if url.database in (None, "", ":memory:"):
            # Each new connection to ":memory:" would be a new, empty database, so
            # all threads share one connection.
            engine = create_engine(
                url,
                poolclass=StaticPool,
                connect_args={**sqlite_args, "check_same_thread": False},
                json_serializer=json_dumps,
                json_deserializer=json_loads,
            )
        else:
            engine = create_engine(
                url,
                connect_args=sqlite_args,
                json_serializer=json_dumps,
                json_deserializer=json_loads,
                **pool_args(),
            )
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    if schema is not None:
        if not _SCHEMA_RE.fullmatch(schema):
            raise StoreError(
                f"invalid schema name {schema!r}: use lower-case letters, digits and _"
            )
        connect_args["options"] = f"-csearch_path={schema}"
    # pre_ping: a long-lived engine process must survive a PostgreSQL restart.
    return create_engine(
        url,
        pool_pre_ping=True,
        connect_args=connect_args,
        json_serializer=json_dumps,
        json_deserializer=json_loads,
        **pool_args(),
    )


#: connections one process keeps open to the store, and the most it opens at once
POOL_KEPT = 10
POOL_DEFAULT = 64


def pool_args() -> dict[str, int]:
    """The connection pool of one process: ``RUNBOOK_DB_POOL`` connections at most (default
    64). SQLAlchemy's own default, 15, is too few for ``runbook serve``: its API's request
    threads and its runs' threads then queue for a connection, reads behind writes."""
    raw = os.environ.get("RUNBOOK_DB_POOL", "").strip()
    try:
        most = int(raw) if raw else POOL_DEFAULT
    except ValueError:
        raise StoreError(f"RUNBOOK_DB_POOL={raw!r}: expected a number of connections") from None
    if most < 1:
        raise StoreError(f"RUNBOOK_DB_POOL={raw!r}: at least 1 connection")
    kept = min(POOL_KEPT, most)
    return {"pool_size": kept, "max_overflow": most - kept}


def _on_sqlite_connect(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    # pysqlite's own transaction handling issues a deferred BEGIN lazily (and not
    # before every statement); switch it off so _on_sqlite_begin decides alone.
    # This is the recipe from SQLAlchemy's pysqlite "Serializable isolation" docs.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first: switching to WAL needs a lock another opener may hold.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # FULL: every commit fsyncs the WAL, so a committed event survives power
        # loss too, not only a killed process.
        cursor.execute("PRAGMA synchronous = FULL")
        # Checkpoint the WAL into the database every 256 pages (1 MiB) instead of 1,000, and
        # cut the file back after: a step that writes megabytes of output must not leave the
        # store carrying a WAL of the same size beside it.
        cursor.execute("PRAGMA wal_autocheckpoint = 256")
        cursor.execute(f"PRAGMA journal_size_limit = {4 * 1024 * 1024}")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    # A write transaction takes the write lock up front (IMMEDIATE): concurrent
    # writers then wait on busy_timeout at BEGIN, instead of failing with
    # SQLITE_BUSY when a deferred reader tries to upgrade to writer mid-way.
    # Reads stay DEFERRED so they never block on, or block, a writer under WAL.
    if conn.get_execution_options().get(WRITE_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` built in code, pointing at this package's migrations.

    With ``connection`` the migrations run on it, inside its transaction; without,
    ``env.py`` connects to the default store (``$RUNBOOK_DB`` or the data dir),
    which is what a developer wants for ``command.revision(..., autogenerate=True)``.
    """
    from alembic.config import Config

    config = Config()
    # ConfigParser interpolates "%", which may appear in a path.
    config.set_main_option("script_location", str(_MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def migrate(engine: Engine, *, schema: str | None = None) -> None:
    """Bring the schema to the newest migration; a no-op when it already is.

    Safe when several processes open the same store at once: on PostgreSQL the
    upgrade runs under a transaction-scoped advisory lock, on SQLite inside a
    BEGIN IMMEDIATE transaction; either way the loser waits, then finds the
    schema current (the DDL is transactional on both, so never half-applied).
    """
    from alembic import command
    from alembic.util import CommandError

    writer = engine.execution_options(**{WRITE_OPTION: True})
    attempts = 8
    for attempt in range(1, attempts + 1):
        try:
            # inside the retries: the first connection switches a new file to WAL, which
            # another opener's first connection may be doing at the same moment
            if current_revision(engine) == SCHEMA_REVISION:
                return  # the fast path, read-only: every open after the first
            with writer.begin() as conn:
                if engine.dialect.name == "postgresql":
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": _PG_MIGRATION_LOCK_KEY},
                    )
                    if schema is not None:
                        # Validated by create_store_engine, safe to interpolate.
                        conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                try:
                    command.upgrade(alembic_config(conn), "head")
                except CommandError as exc:
                    raise StoreError(
                        f"cannot migrate the run store: {exc} "
                        "(was it migrated by a newer runbook-engine?)"
                    ) from exc
            return
        except OperationalError as exc:
            # busy_timeout covers ordinary waits; this covers SQLite's rare
            # immediate SQLITE_BUSY (e.g. during WAL recovery by another opener).
            if engine.dialect.name != "sqlite" or attempt == attempts:
                raise
            if "locked" not in str(exc.orig) and "busy" not in str(exc.orig):
                raise
            time.sleep(0.1 * attempt)


def current_revision(engine: Engine) -> str | None:
    """The store's migration revision, or None for an empty database."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        revision: str | None = conn.execute(
            text("SELECT version_num FROM alembic_version")
        ).scalar()
        return revision


def describe(url: URL) -> str:
    """The URL for messages, with any password masked."""
    return url.render_as_string(hide_password=True)


def open_engine(url: URL, *, schema: str | None = None) -> Engine:
    """Create the engine and migrate; errors become ``StoreError`` naming the store."""
    engine = create_store_engine(url, schema=schema)
    try:
        migrate(engine, schema=schema)
    except SQLAlchemyError as exc:
        engine.dispose()
        cause = getattr(exc, "orig", None) or exc
        raise StoreError(f"cannot open the run store at {describe(url)}: {cause}") from exc
    except BaseException:
        engine.dispose()
        raise
    return engine
