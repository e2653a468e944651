"""Waking up when another process writes to the store, without polling its tables.

PostgreSQL: every append to a run's log sends ``NOTIFY runbook_runs, '<run id>'`` inside its
transaction (delivered at commit, dropped on rollback), and a feed holds one ``LISTEN``
connection. SQLite: ``PRAGMA data_version`` changes whenever another connection commits; reading
it is a few microseconds and touches no table, so a feed asks every ``SQLITE_CHECK_EVERY``
seconds. A feed only says *that* something changed: the caller looks at the runs itself, so a
notification lost while reconnecting costs nothing but a little delay.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Protocol

from sqlalchemy.engine import make_url

log = logging.getLogger("runbook.store.changes")

#: the PostgreSQL notification channel appends are announced on (payload: the run id)
CHANNEL = "runbook_runs"
#: how often a SQLite feed reads ``data_version``
SQLITE_CHECK_EVERY = 0.1


class ChangeFeed(Protocol):
    def wait(self, timeout: float) -> bool:
        """Block until another writer committed something, or ``timeout`` seconds passed
        (False). May also return True when it cannot tell (after a reconnect)."""

    def close(self) -> None: ...


class SqliteFeed:
    def __init__(self, path: str, every: float = SQLITE_CHECK_EVERY) -> None:
        # a connection of its own that never writes: data_version counts the others' commits
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._every = every
        self._lock = threading.Lock()
        self._version = self._read()

    def _read(self) -> int:
        with self._lock:
            row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            version = self._read()
            if version != self._version:
                self._version = version
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(self._every, left))

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresFeed:
    def __init__(self, url: str) -> None:
        # libpq takes the URL as SQLAlchemy spells it once the driver name is dropped
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn: object | None = None

    def _connect(self) -> object:
        import psycopg

        conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=10)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def wait(self, timeout: float) -> bool:
        import psycopg

        try:
            if self._conn is None:
                self._conn = self._connect()
                return True  # whatever was said while not listening is unknown: look
            assert isinstance(self._conn, psycopg.Connection)
            heard = False
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                heard = True
            if heard:  # a burst of appends is one wake-up
                for _ in self._conn.notifies(timeout=0.001):
                    pass
            return heard
        except psycopg.Error as exc:
            log.warning("listening for store changes failed (%s); reconnecting", exc)
            self.close()
            time.sleep(min(timeout, 1.0))
            return True

    def close(self) -> None:
        import psycopg

        conn, self._conn = self._conn, None
        if isinstance(conn, psycopg.Connection):
            conn.close()


class TimerFeed:
    """An in-memory SQLite store has no other writers to hear: every wait times out."""

    def wait(self, timeout: float) -> bool:
        time.sleep(timeout)
        return True

    def close(self) -> None:
        return None
