"""The run store: runbook versions, runs, their event logs, and cross-process locks.

Every write is one short database transaction, committed before the method
returns, so a caller that acts on a returned record acts on something durable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from sqlalchemy import (
    Engine,
    Row,
    Select,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

from runbook_engine.errors import CatalogError, LockHeld, StoreError, StoreWriteError
from runbook_engine.store._changes import CHANNEL, ChangeFeed, PostgresFeed, SqliteFeed, TimerFeed
from runbook_engine.store._engine import (
    WRITE_OPTION,
    Dialect,
    check_location,
    describe,
    open_engine,
    resolve_url,
)
from runbook_engine.store._identity import IdentityRecords
from runbook_engine.store._records import (
    TERMINAL_STATUSES,
    EventRecord,
    JSONDict,
    NewEvent,
    NewRun,
    RunRecord,
    StoredVersion,
    TickRecord,
    as_utc,
)
from runbook_engine.store._tables import (
    UTCDateTime,
    checkpoints,
    events,
    locks,
    runbook_versions,
    runs,
    schedule_ticks,
)

__all__ = ["Store"]

MIN_PREFIX = 4
"""Shortest run-id prefix ``get_run`` accepts, so a typo rarely matches by accident."""

_AMBIGUOUS_SHOWN = 10
"""How many candidate ids an ambiguous-prefix error lists."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _version(row: Row[Any]) -> StoredVersion:
    return StoredVersion(
        name=row.name,
        version=row.version,
        digest=row.digest,
        source=row.source,
        document=row.document,
        recorded_at=row.recorded_at,
    )


def _run(row: Row[Any]) -> RunRecord:
    return RunRecord(
        id=row.id,
        runbook=row.runbook,
        version=row.version,
        digest=row.digest,
        status=row.status,
        params=row.params,
        requester=row.requester,
        state=row.state,
        owner=row.owner,
        heartbeat_at=row.heartbeat_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        published_seq=row.published_seq,
        last_seq=row.last_seq,
    )


def _event(row: Row[Any]) -> EventRecord:
    return EventRecord(
        run_id=row.run_id,
        seq=row.seq,
        ts=row.ts,
        type=row.type,
        step_id=row.step_id,
        data=row.data,
    )


# The run row's part of an append on SQLite: in one UPDATE the right-hand sides read the row as it
# was, so published_seq gets the new last seq and the status is written only if nobody appended
# since the writer last looked (expect).
_SQLITE_APPEND = """
UPDATE runs SET
  last_seq = last_seq + :n,
  status = CASE WHEN :status IS NOT NULL AND (:expect IS NULL OR last_seq = :expect)
                THEN :status ELSE status END,
  published_seq = CASE WHEN :published THEN last_seq + :n ELSE published_seq END,
  updated_at = :now
WHERE id = :id
RETURNING last_seq
"""
_SQLITE_INSERT_EVENT = (
    "INSERT INTO events (run_id, seq, ts, type, step_id, data) VALUES (?, ?, ?, ?, ?, ?)"
)


@functools.cache
def _sqlite_binders(dialect: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """SQLAlchemy's bind processors for the events' ``ts`` and ``data`` columns."""
    ts = events.c.ts.type.dialect_impl(dialect).bind_processor(dialect)
    data = events.c.data.type.dialect_impl(dialect).bind_processor(dialect)
    outer_ts = UTCDateTime()  # the column's type: converts to UTC before the impl formats it

    def bind_ts(value: Any) -> Any:
        value = outer_ts.process_bind_param(value, dialect)
        return ts(value) if ts else value

    def bind_data(value: Any) -> Any:
        return data(value) if data else value

    return bind_ts, bind_data


# Columns a RunRecord is built from (everything but the internal seq counter).
_RUN_COLUMNS = list(runs.c)


class _Explain(Executable, ClauseElement):
    """``EXPLAIN`` of a statement, compiled by the same compiler so its parameters bind as
    they do when it runs (the datetimes through ``UTCDateTime``)."""

    inherit_cache = False

    def __init__(self, stmt: Select[Any]) -> None:
        self.stmt = stmt


@compiles(_Explain)
def _compile_explain(element: _Explain, compiler: SQLCompiler, **kw: Any) -> str:
    prefix = "EXPLAIN QUERY PLAN " if compiler.dialect.name == "sqlite" else "EXPLAIN "
    return prefix + compiler.process(element.stmt, **kw)


class Store(IdentityRecords):
    """A run store on SQLite (embedded default) or PostgreSQL.

    Open with :meth:`Store.open`; close with :meth:`close` (or use ``with``).
    One ``Store`` may be shared by threads; each process opens its own (an open
    store must not be carried across ``fork``).
    """

    def __init__(self, engine: Engine, url: str, dialect: Dialect, display_url: str) -> None:
        """Internal: use :meth:`Store.open`."""
        self._engine = engine
        # Write transactions are marked so SQLite begins them IMMEDIATE.
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._url = url
        self._dialect: Dialect = dialect
        self._display_url = display_url

    # -- lifecycle -------------------------------------------------------------

    @classmethod
    def open(
        cls, url: str | None = None, *, schema: str | None = None, create: bool = True
    ) -> Store:
        """Open (and migrate, if needed) the store at ``url``.

        ``url`` is a SQLAlchemy URL or a SQLite file path; ``None`` means
        ``$RUNBOOK_DB`` or else ``runbook.db`` in the user's data dir.
        ``schema`` (PostgreSQL only) keeps the tables in that schema, created
        if missing: tests use it to get an isolated store per test.
        ``create=False`` (commands that only read) refuses a SQLite store that does
        not exist yet instead of creating it; a SQLite file whose folder is missing
        is refused either way (``StoreNotFound``).
        """
        resolved = resolve_url(url, create=create)
        check_location(resolved, url, create=create)
        engine = open_engine(resolved, schema=schema)
        dialect: Dialect = "sqlite" if resolved.get_backend_name() == "sqlite" else "postgresql"
        return cls(
            engine,
            resolved.render_as_string(hide_password=False),
            dialect,
            describe(resolved),
        )

    @property
    def url(self) -> str:
        """The resolved URL, reusable with :meth:`open`; it includes any password,
        so print ``repr(store)`` instead."""
        return self._url

    @property
    def dialect(self) -> Dialect:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._dialect

    def close(self) -> None:
        """Close every pooled connection. The store must not be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self._display_url!r})"

    # -- transactions ------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction, committed on leaving the block without an error."""
        try:
            with self._writer.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise self._error("write to", exc) from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise self._error("read from", exc) from exc

    def _error(self, doing: str, exc: SQLAlchemyError) -> StoreError:
        # The DBAPI's own message is the useful part; SQLAlchemy's wrapper adds the
        # statement and parameters, which are long and may carry secrets.
        cause = getattr(exc, "orig", None) or exc
        if isinstance(cause, StoreError):
            return cause  # already says what is wrong (json_dumps raised it)
        error = StoreWriteError if doing == "write to" else StoreError
        return error(f"cannot {doing} the run store at {self._display_url}: {cause}")

    def _upsert(
        self, table: Table, values: Mapping[str, Any], key: Sequence[str], update: Sequence[str]
    ) -> Any:
        """``INSERT ... ON CONFLICT (key) DO UPDATE SET update...`` in this backend's dialect."""
        stmt = pg_insert(table) if self._dialect == "postgresql" else sqlite_insert(table)
        stmt = stmt.values(**values)
        return stmt.on_conflict_do_update(
            index_elements=list(key), set_={name: stmt.excluded[name] for name in update}
        )

    def _insert_ignoring_conflict(
        self, table: Table, values: Mapping[str, Any], key: Sequence[str]
    ) -> Any:
        """``INSERT ... ON CONFLICT (key) DO NOTHING`` in this backend's dialect.

        Used where two processes may insert the same key at once: the loser waits
        for the winner's commit and then inserts nothing, instead of failing.
        """
        stmt = pg_insert(table) if self._dialect == "postgresql" else sqlite_insert(table)
        return stmt.values(**values).on_conflict_do_nothing(index_elements=list(key))

    # -- change feed ---------------------------------------------------------------

    @staticmethod
    def _announce(conn: Connection, run_id: str) -> None:
        """Tell listeners (``change_feed``) the run changed, when this transaction commits."""
        conn.execute(select(func.pg_notify(CHANNEL, run_id)))

    def change_feed(self) -> ChangeFeed:
        """A way to wait until another connection writes here (see ``_changes``); one per
        waiting thread, closed by its user."""
        if self._dialect == "postgresql":
            return PostgresFeed(self._url)
        database = self._engine.url.database
        if database in (None, "", ":memory:"):
            return TimerFeed()
        return SqliteFeed(str(database))

    # -- presence ------------------------------------------------------------------

    # A process that watches the store for others (``runbook serve``) says so with a lease in
    # the locks table: its key names the process, ``acquired_at`` is its last heartbeat, and
    # its holder is the process id, never a run id, so no run's lock handling touches it.

    def hold_presence(self, key: str, holder: str) -> None:
        """Record (or refresh) that ``holder`` is alive under ``key``."""
        with self._write() as conn:
            conn.execute(
                self._upsert(
                    locks,
                    {"key": key, "run_id": holder, "acquired_at": _utcnow()},
                    ("key",),
                    ("run_id", "acquired_at"),
                )
            )

    def drop_presence(self, key: str) -> None:
        with self._write() as conn:
            conn.execute(delete(locks).where(locks.c.key == key))

    def presences(self, prefix: str) -> list[tuple[str, datetime]]:
        """Every holder of a presence key starting with ``prefix``, and its last heartbeat."""
        stmt = select(locks.c.run_id, locks.c.acquired_at).where(
            func.substr(locks.c.key, 1, len(prefix)) == prefix
        )
        with self._read() as conn:
            return [(row.run_id, as_utc(row.acquired_at)) for row in conn.execute(stmt)]

    # -- runbook versions ----------------------------------------------------------

    def save_version(
        self, name: str, version: int, digest: str, source: str, document: JSONDict
    ) -> StoredVersion:
        """Record an immutable copy of a runbook version; idempotent for the same digest.

        Raises ``CatalogError`` if ``(name, version)`` is recorded with another
        digest: a runbook's content must not change without a version bump, or
        past runs would no longer say what they ran.
        """
        key = and_(runbook_versions.c.name == name, runbook_versions.c.version == version)
        with self._write() as conn:
            conn.execute(
                self._insert_ignoring_conflict(
                    runbook_versions,
                    {
                        "name": name,
                        "version": version,
                        "digest": digest,
                        "source": source,
                        "document": document,
                        "recorded_at": _utcnow(),
                    },
                    ("name", "version"),
                )
            )
            row = conn.execute(select(runbook_versions).where(key)).one()
        stored = _version(row)
        if stored.digest != digest:
            raise CatalogError(
                f"{name} version {version} is already recorded with different content "
                f"(digest {stored.digest}, this one {digest}); "
                "bump `version` when you change a runbook"
            )
        return stored

    def get_version(self, name: str, version: int) -> StoredVersion | None:
        """The recorded copy of ``name`` at ``version``, if any run used it."""
        with self._read() as conn:
            row = conn.execute(
                select(runbook_versions).where(
                    runbook_versions.c.name == name, runbook_versions.c.version == version
                )
            ).first()
        return None if row is None else _version(row)

    def list_versions(self, name: str | None = None) -> list[StoredVersion]:
        """Recorded versions, by name then version; only ``name``'s if given."""
        stmt = select(runbook_versions).order_by(
            runbook_versions.c.name, runbook_versions.c.version
        )
        if name is not None:
            stmt = stmt.where(runbook_versions.c.name == name)
        with self._read() as conn:
            return [_version(row) for row in conn.execute(stmt)]

    # -- runs and events --------------------------------------------------------------

    def create_run(
        self,
        run_id: str,
        *,
        runbook: str,
        version: int,
        digest: str,
        params: JSONDict,
        requester: str,
        state: JSONDict | None = None,
        status: str = "pending",
        trigger: JSONDict | None = None,
        parent: JSONDict | None = None,
        rerun_of: JSONDict | None = None,
        then: Sequence[NewEvent] = (),
    ) -> RunRecord:
        """Create a run and its first event (seq 1, ``run.created``) in one transaction.
        ``trigger``: the alert that started the run, recorded in that event; ``parent``: the
        run and call step a child run was started by, and ``rerun_of``: the run it re-runs
        (``runbook rerun``), there too. ``then``: events that follow it (seq 2...) in the
        same transaction (a re-run's carried steps: never a run without them).

        Raises ``StoreError`` if a run with this id already exists.
        """
        if not run_id:
            raise StoreError("a run id must not be empty")
        now = _utcnow()
        with self._write() as conn:
            created = conn.execute(
                self._insert_ignoring_conflict(
                    runs,
                    {
                        "id": run_id,
                        "runbook": runbook,
                        "version": version,
                        "digest": digest,
                        "status": status,
                        "params": params,
                        "requester": requester,
                        "state": {} if state is None else state,
                        "owner": None,
                        "heartbeat_at": None,
                        "created_at": now,
                        "updated_at": now,
                        "last_seq": 1 + len(then),
                    },
                    ("id",),
                ).returning(*_RUN_COLUMNS)
            ).first()
            if created is None:
                raise StoreError(f"run {run_id} already exists")
            conn.execute(
                insert(events).values(
                    run_id=run_id,
                    seq=1,
                    ts=now,
                    type="run.created",
                    step_id=None,
                    data={"params": params, "requester": requester}
                    | ({} if trigger is None else {"trigger": trigger})
                    | ({} if parent is None else {"parent": parent})
                    | ({} if rerun_of is None else {"rerun_of": rerun_of}),
                )
            )
            if then:
                conn.execute(
                    insert(events),
                    [
                        {
                            "run_id": run_id,
                            "seq": 2 + i,
                            "ts": event.ts or now,
                            "type": event.type,
                            "step_id": event.step_id,
                            "data": event.data,
                        }
                        for i, event in enumerate(then)
                    ],
                )
            if self._dialect == "postgresql":
                self._announce(conn, run_id)
        return _run(created)

    def create_runs(self, new: Sequence[NewRun]) -> set[str]:
        """``create_run`` for many runs in one transaction (a notification of a thousand
        alerts is one commit, not a thousand). A run whose id the store has already is not
        created, and no error: returns the ids created."""
        new = list({n.run_id: n for n in reversed(new)}.values())[::-1]  # each id once
        if not new:
            return set()
        now = _utcnow()
        rows = [
            {
                "id": n.run_id,
                "runbook": n.runbook,
                "version": n.version,
                "digest": n.digest,
                "status": n.status,
                "params": n.params,
                "requester": n.requester,
                "state": {},
                "owner": n.owner,
                "heartbeat_at": None if n.owner is None else now,
                "created_at": now,
                "updated_at": now,
                "last_seq": 1,
            }
            for n in new
        ]
        base = pg_insert(runs) if self._dialect == "postgresql" else sqlite_insert(runs)
        stmt = base.on_conflict_do_nothing(index_elements=["id"]).returning(runs.c.id)
        with self._write() as conn:
            created = set(conn.execute(stmt, rows).scalars())
            firsts = [
                {
                    "run_id": n.run_id,
                    "seq": 1,
                    "ts": now,
                    "type": "run.created",
                    "step_id": None,
                    "data": {"params": n.params, "requester": n.requester}
                    | ({} if n.trigger is None else {"trigger": n.trigger})
                    | ({} if n.rerun_of is None else {"rerun_of": n.rerun_of}),
                }
                for n in new
                if n.run_id in created
            ]
            if firsts:
                conn.execute(insert(events), firsts)
            if self._dialect == "postgresql":
                for run_id in created:
                    self._announce(conn, run_id)
        return created

    def append_event(
        self,
        run_id: str,
        type: str,
        data: JSONDict | None = None,
        *,
        step_id: str | None = None,
        status: str | None = None,
        state: JSONDict | None = None,
        published: bool = False,
    ) -> EventRecord:
        """Append an event to a run's log and update the run row, in one transaction.

        The event gets the run's next seq (gapless, also under concurrent writers
        in several processes). ``status`` and ``state`` (a checkpoint) replace the
        run's, if given; ``published`` marks it as written by the run's driving
        engine. When this returns, the event is committed and durable.
        """
        [record] = self.append_events(
            run_id,
            [NewEvent(type, {} if data is None else data, step_id)],
            status=status,
            state=state,
            published=published,
        )
        return record

    def append_events(
        self,
        run_id: str,
        batch: Sequence[NewEvent],
        *,
        status: str | None = None,
        state: JSONDict | None = None,
        published: bool = False,
        expect_seq: int | None = None,
        ts: datetime | None = None,
        checkpoint: JSONDict | None = None,
    ) -> list[EventRecord]:
        """Append several events in one transaction (one commit, one fsync): they get
        consecutive seqs, in order, and are durable together when this returns.

        With ``expect_seq``, ``status``, ``state`` and ``checkpoint`` are written only if the
        run's last seq was still ``expect_seq``: they were computed from the log up to there,
        and are wrong if someone appended in between (the caller sees it in the seqs it gets
        back). ``checkpoint`` is the state folded up to the last of these events (as
        ``save_state`` takes it), which the writer can only compute if it knows the events'
        time: ``ts``, the writer's clock just before the write (default: the store's, taken
        under the run's lock)."""
        if not batch:
            return []
        if self._dialect == "sqlite" and state is None and checkpoint is None:
            return self._append_sqlite(run_id, batch, status, published, expect_seq, ts)
        changes: dict[str, Any] = {"last_seq": runs.c.last_seq + len(batch)}
        unchanged = runs.c.last_seq == expect_seq
        if status is not None:
            changes["status"] = (
                status if expect_seq is None else case((unchanged, status), else_=runs.c.status)
            )
        if state is not None:
            changes["state"] = (
                state
                if expect_seq is None
                else case((unchanged, literal(state, runs.c.state.type)), else_=runs.c.state)
            )
        if published:
            changes["published_seq"] = runs.c.last_seq + len(batch)
        sqlite = self._dialect == "sqlite"
        with self._write() as conn:
            # Timestamps are taken after the lock, so they rise with seq. On SQLite the
            # transaction began with BEGIN IMMEDIATE, which is the lock: one UPDATE does it all.
            now = ts or _utcnow()
            if sqlite or ts is not None:
                changes["updated_at"] = now
            # This UPDATE is also the lock on PostgreSQL: a concurrent appender to the same
            # run blocks on the row until we commit, then reads our last_seq.
            last = conn.execute(
                update(runs).where(runs.c.id == run_id).values(**changes).returning(runs.c.last_seq)
            ).scalar_one_or_none()
            if last is None:
                raise StoreError(f"no run {run_id}")
            if not sqlite and ts is None:
                now = _utcnow()
            first = last - len(batch) + 1
            rows = [
                {
                    "run_id": run_id,
                    "seq": first + i,
                    "ts": item.ts or now,
                    "type": item.type,
                    "step_id": item.step_id,
                    "data": item.data,
                }
                for i, item in enumerate(batch)
            ]
            conn.execute(insert(events), rows)
            if not sqlite:
                self._announce(conn, run_id)
            if not sqlite and ts is None:
                conn.execute(update(runs).where(runs.c.id == run_id).values(updated_at=now))
            if checkpoint is not None and (expect_seq is None or first == expect_seq + 1):
                conn.execute(
                    self._upsert(
                        checkpoints,
                        {"run_id": run_id, "seq": last, "state": checkpoint},
                        ("run_id",),
                        ("seq", "state"),
                    )
                )
        return [
            EventRecord(run_id, row["seq"], row["ts"], row["type"], row["step_id"], row["data"])
            for row in rows
        ]

    def _append_sqlite(
        self,
        run_id: str,
        batch: Sequence[NewEvent],
        status: str | None,
        published: bool,
        expect_seq: int | None,
        ts: datetime | None,
    ) -> list[EventRecord]:
        """``append_events`` on SQLite in two prepared statements on the driver: the hot path
        of every run (a step's events), where building and compiling SQLAlchemy statements cost
        more than the commit. Values are bound with SQLAlchemy's own processors for these
        columns, so what is stored is exactly what the general path stores."""
        bind_ts, bind_data = _sqlite_binders(self._engine.dialect)
        with self._write() as conn:
            # BEGIN IMMEDIATE holds the write lock: timestamps taken now rise with seq.
            now = ts or _utcnow()
            row = conn.exec_driver_sql(
                _SQLITE_APPEND,
                {
                    "id": run_id,
                    "n": len(batch),
                    "status": status,
                    "expect": expect_seq,
                    "published": int(published),
                    "now": bind_ts(now),
                },
            ).first()
            if row is None:
                raise StoreError(f"no run {run_id}")
            first = row[0] - len(batch) + 1
            conn.exec_driver_sql(
                _SQLITE_INSERT_EVENT,
                [
                    (
                        run_id,
                        first + i,
                        bind_ts(item.ts or now),
                        item.type,
                        item.step_id,
                        bind_data(item.data),
                    )
                    for i, item in enumerate(batch)
                ],
            )
        return [
            EventRecord(run_id, first + i, item.ts or now, item.type, item.step_id, item.data)
            for i, item in enumerate(batch)
        ]

    def save_state(
        self,
        run_id: str,
        status: str,
        checkpoint: JSONDict,
        at_seq: int,
        *,
        summary: JSONDict | None = None,
    ) -> bool:
        """Write the run's status, a checkpoint of its state folded up to ``at_seq`` and (if
        given) the small ``summary`` the run row keeps as ``state``, in one transaction; False
        (nothing written) when the log has grown past ``at_seq`` meanwhile.

        The writer folded, and so published, every event up to ``at_seq``: the run's
        ``published_seq`` moves up to it."""
        values: dict[str, Any] = {
            "status": status,
            "published_seq": case(
                (runs.c.published_seq < at_seq, at_seq), else_=runs.c.published_seq
            ),
        }
        if summary is not None:
            values["state"] = summary
        with self._write() as conn:
            moved = conn.execute(
                update(runs).where(runs.c.id == run_id, runs.c.last_seq == at_seq).values(**values)
            ).rowcount
            if moved != 1:
                return False
            conn.execute(
                self._upsert(
                    checkpoints,
                    {"run_id": run_id, "seq": at_seq, "state": checkpoint},
                    ("run_id",),
                    ("seq", "state"),
                )
            )
        return True

    def checkpoint(self, run_id: str) -> tuple[int, JSONDict] | None:
        """The run's newest checkpoint: the seq it was folded up to, and the state."""
        stmt = select(checkpoints.c.seq, checkpoints.c.state).where(checkpoints.c.run_id == run_id)
        with self._read() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else (row.seq, row.state)

    def results(self, run_id: str, seqs: Iterable[int]) -> dict[int, Any]:
        """The ``result`` of each of the given events (step results a checkpoint refers to)."""
        wanted = sorted(set(seqs))
        if not wanted:
            return {}
        stmt = select(events.c.seq, events.c.data).where(
            events.c.run_id == run_id, events.c.seq.in_(wanted)
        )
        with self._read() as conn:
            return {row.seq: (row.data or {}).get("result") for row in conn.execute(stmt)}

    def reruns_of(self, run_id: str, *, prefix: str) -> list[str]:
        """The runs whose ``run.created`` names ``run_id`` as the run they re-run
        (``rerun_of.run``), oldest first. Only ids starting with ``prefix`` (re-runs' ids,
        the service's choice) are looked at: a range of the events' key, not every run."""
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        stmt = (
            select(events.c.run_id)
            .where(
                events.c.run_id >= prefix,
                events.c.run_id < end,
                events.c.seq == 1,
                events.c.data["rerun_of"]["run"].as_string() == run_id,
            )
            .order_by(events.c.ts, events.c.run_id)
        )
        with self._read() as conn:
            return [str(row.run_id) for row in conn.execute(stmt)]

    def events(
        self, run_id: str, after_seq: int = 0, limit: int | None = None
    ) -> list[EventRecord]:
        """The run's events with seq greater than ``after_seq``, in seq order (the first
        ``limit`` of them, when given)."""
        stmt = (
            select(events)
            .where(events.c.run_id == run_id, events.c.seq > after_seq)
            .order_by(events.c.seq)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._read() as conn:
            return [_event(row) for row in conn.execute(stmt)]

    def get_run(self, run_id_or_prefix: str) -> RunRecord | None:
        """The run with this id or, failing that, the one run whose id starts with it.

        A prefix must be at least 4 characters. Raises ``StoreError`` naming the
        candidates when a prefix matches more than one run.
        """
        with self._read() as conn:
            row = conn.execute(select(*_RUN_COLUMNS).where(runs.c.id == run_id_or_prefix)).first()
            if row is not None or len(run_id_or_prefix) < MIN_PREFIX:
                return None if row is None else _run(row)
            # substr rather than LIKE: LIKE is case-insensitive on SQLite and treats
            # "%" and "_" in the prefix as wildcards.
            matches = conn.execute(
                select(*_RUN_COLUMNS)
                .where(func.substr(runs.c.id, 1, len(run_id_or_prefix)) == run_id_or_prefix)
                .order_by(runs.c.id)
                .limit(_AMBIGUOUS_SHOWN + 1)
            ).all()
        if not matches:
            return None
        if len(matches) == 1:
            return _run(matches[0])
        shown = ", ".join(m.id for m in matches[:_AMBIGUOUS_SHOWN])
        more = ", ..." if len(matches) > _AMBIGUOUS_SHOWN else ""
        raise StoreError(f"run id prefix {run_id_or_prefix!r} is ambiguous: {shown}{more}")

    def list_runs(
        self,
        *,
        status: str | Sequence[str] | None = None,
        runbook: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        before: tuple[datetime, str] | None = None,
        requester: str | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first, filtered by status (one or several), runbook, requester, and
        creation time (``since`` inclusive; a naive datetime is taken as UTC). ``before``
        (the creation time and id of the last run of a page) continues after that run."""
        stmt = self.list_runs_query(
            status=status,
            runbook=runbook,
            since=since,
            limit=limit,
            before=before,
            requester=requester,
        )
        with self._read() as conn:
            return [_run(row) for row in conn.execute(stmt)]

    def list_runs_query(
        self,
        *,
        status: str | Sequence[str] | None = None,
        runbook: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        before: tuple[datetime, str] | None = None,
        requester: str | None = None,
    ) -> Select[Any]:
        """The statement ``list_runs`` runs, for looking at its plan (``EXPLAIN``): the
        indexes of migration 0005 exist for these."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        stmt = select(*_RUN_COLUMNS)
        if isinstance(status, str):
            stmt = stmt.where(runs.c.status == status)
        elif status is not None:
            stmt = stmt.where(runs.c.status.in_(list(status)))
        if runbook is not None:
            stmt = stmt.where(runs.c.runbook == runbook)
        if since is not None:
            stmt = stmt.where(runs.c.created_at >= as_utc(since))
        if requester is not None:
            stmt = stmt.where(runs.c.requester == requester)
        if before is not None:
            at, last_id = as_utc(before[0]), before[1]
            # the redundant ``created_at <= at`` is a range both databases seek the index
            # to, so a later page starts at its cursor instead of skipping the pages before it
            stmt = stmt.where(
                runs.c.created_at <= at,
                or_(runs.c.created_at < at, runs.c.id < last_id),
            )
        # id breaks ties between runs created in the same microsecond, so the
        # order is stable from one call to the next.
        return stmt.order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(limit)

    def explain(self, stmt: Select[Any]) -> list[str]:
        """The database's plan for ``stmt``, one line per row: ``EXPLAIN QUERY PLAN`` on
        SQLite (its ``detail`` column), ``EXPLAIN`` on PostgreSQL."""
        with self._read() as conn:
            return [str(row[-1]) for row in conn.execute(_Explain(stmt))]

    # -- ownership ------------------------------------------------------------------

    def set_owner(self, run_id: str, owner: str | None) -> None:
        """Make ``owner`` (``host:pid``) the run's driver, or clear it with ``None``.

        Unconditional, unlike :meth:`claim_run`. Raises ``StoreError`` if there is
        no such run.
        """
        with self._write() as conn:
            result = conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(owner=owner, heartbeat_at=None if owner is None else _utcnow())
            )
            if result.rowcount != 1:
                raise StoreError(f"no run {run_id}")

    def heartbeat(self, run_id: str, owner: str) -> bool:
        """Record that ``owner`` is alive and still driving the run.

        Returns False, changing nothing, if ``owner`` no longer owns the run (it
        was declared stale and claimed by another process), so the caller knows
        to stop driving it.
        """
        with self._write() as conn:
            result = conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.owner == owner)
                .values(heartbeat_at=_utcnow())
            )
            return result.rowcount == 1

    def heartbeat_many(self, run_ids: Sequence[str], owner: str) -> int:
        """``heartbeat`` for many runs in one statement; returns how many ``owner`` still
        owns."""
        if not run_ids:
            return 0
        with self._write() as conn:
            result = conn.execute(
                update(runs)
                .where(runs.c.id.in_(list(run_ids)), runs.c.owner == owner)
                .values(heartbeat_at=_utcnow())
            )
            return int(result.rowcount)

    def claim_run(self, run_id: str, owner: str, stale_after: float) -> bool:
        """Take ownership if the run has no owner, is ``owner``'s already, or its
        owner's last heartbeat is older than ``stale_after`` seconds.

        One conditional UPDATE, so two claimants never both win.
        """
        return self.claim(run_id, owner, stale_after) is not None

    def claim(self, run_id: str, owner: str, stale_after: float) -> RunRecord | None:
        """``claim_run`` that returns the run as it is once claimed (None: not claimed), so
        the new owner need not read the row again."""
        now = _utcnow()
        cutoff = now - timedelta(seconds=stale_after)
        with self._write() as conn:
            row = conn.execute(
                update(runs)
                .where(
                    runs.c.id == run_id,
                    or_(
                        runs.c.owner.is_(None),
                        runs.c.owner == owner,
                        runs.c.heartbeat_at.is_(None),
                        runs.c.heartbeat_at < cutoff,
                    ),
                )
                .values(owner=owner, heartbeat_at=now)
                .returning(*_RUN_COLUMNS)
            ).first()
            return _run(row) if row is not None else None

    # -- locks ------------------------------------------------------------------------

    def acquire_lock(self, key: str, run_id: str) -> None:
        """Take the named lock for ``run_id``.

        Re-entrant for the same run. A lock held by a run that has finished (its
        status is terminal) or no longer exists is taken over. Otherwise raises
        ``LockHeld(key, holder_run_id)``.
        """
        now = _utcnow()
        with self._write() as conn:
            # Insert if free; if another transaction is inserting the same key, this
            # waits for it (PostgreSQL) and then inserts nothing.
            conn.execute(
                self._insert_ignoring_conflict(
                    locks, {"key": key, "run_id": run_id, "acquired_at": now}, ("key",)
                )
            )
            # FOR UPDATE: two runs taking over the same stale lock queue here, and
            # the second then sees the first as holder (PostgreSQL re-reads the
            # row after the wait). SQLite ignores it; BEGIN IMMEDIATE serialises.
            holder: str = conn.execute(
                select(locks.c.run_id).where(locks.c.key == key).with_for_update()
            ).scalar_one()
            if holder == run_id:
                return
            holder_status = conn.execute(
                select(runs.c.status).where(runs.c.id == holder)
            ).scalar_one_or_none()
            if holder_status is not None and holder_status not in TERMINAL_STATUSES:
                raise LockHeld(key, holder)
            conn.execute(
                update(locks).where(locks.c.key == key).values(run_id=run_id, acquired_at=now)
            )

    def release_lock(self, key: str, run_id: str) -> None:
        """Release the lock if ``run_id`` holds it; otherwise do nothing."""
        with self._write() as conn:
            conn.execute(delete(locks).where(locks.c.key == key, locks.c.run_id == run_id))

    def lock_holder(self, key: str) -> str | None:
        """The id of the run holding the lock, if any (it may have finished since)."""
        with self._read() as conn:
            holder: str | None = conn.execute(
                select(locks.c.run_id).where(locks.c.key == key)
            ).scalar_one_or_none()
        return holder

    def release_locks_of(self, run_id: str) -> None:
        """Release every lock ``run_id`` holds."""
        with self._write() as conn:
            conn.execute(delete(locks).where(locks.c.run_id == run_id))

    def let_go(self, run_id: str, owner: str, *, release_locks: bool) -> None:
        """An engine stops driving a run: clear its ownership (if still ``owner``'s) and, for
        a finished run, release its locks, in one transaction."""
        with self._write() as conn:
            if release_locks:
                conn.execute(delete(locks).where(locks.c.run_id == run_id))
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.owner == owner)
                .values(owner=None, heartbeat_at=None)
            )

    # -- schedule ticks -------------------------------------------------------------

    def claim_tick(
        self,
        runbook: str,
        schedule_index: int,
        fire_at: datetime,
        *,
        run_id: str | None,
        outcome: str = "started",
    ) -> bool:
        """Record that a scheduled tick fires; True only for the one caller whose insert
        landed. Every scheduler calls this, so each tick fires exactly once."""
        with self._write() as conn:
            result = conn.execute(
                self._insert_ignoring_conflict(
                    schedule_ticks,
                    {
                        "runbook": runbook,
                        "schedule_index": schedule_index,
                        "fire_at": fire_at,
                        "run_id": run_id,
                        "outcome": outcome,
                        "recorded_at": _utcnow(),
                    },
                    ("runbook", "schedule_index", "fire_at"),
                )
            )
            return bool(result.rowcount == 1)

    def last_tick(self, runbook: str, schedule_index: int) -> datetime | None:
        """The newest recorded fire time of one schedule of a runbook."""
        with self._read() as conn:
            value = conn.execute(
                select(func.max(schedule_ticks.c.fire_at)).where(
                    schedule_ticks.c.runbook == runbook,
                    schedule_ticks.c.schedule_index == schedule_index,
                )
            ).scalar()
        return None if value is None else as_utc(value)

    def ticks(self, runbook: str | None = None, since: datetime | None = None) -> list[TickRecord]:
        """Recorded ticks, oldest first."""
        stmt = select(schedule_ticks).order_by(schedule_ticks.c.fire_at)
        if runbook is not None:
            stmt = stmt.where(schedule_ticks.c.runbook == runbook)
        if since is not None:
            stmt = stmt.where(schedule_ticks.c.fire_at >= since)
        with self._read() as conn:
            return [
                TickRecord(
                    runbook=row.runbook,
                    schedule_index=row.schedule_index,
                    fire_at=as_utc(row.fire_at),
                    run_id=row.run_id,
                    outcome=row.outcome,
                )
                for row in conn.execute(stmt)
            ]
