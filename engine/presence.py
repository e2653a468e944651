"""Is a ``runbook serve`` watching this store? Asked by the CLI before it drives a run itself.

A serve holds a presence lease in the store (``Store.hold_presence``) under
``runbook.serve/<host:pid>``, refreshed every ``HEARTBEAT_EVERY`` seconds and dropped on stop. A
lease counts while it is fresher than ``STALE_AFTER`` and its process is not known to be gone, the
same rule as for the owner of a run (``lease``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from runbook_engine.lease import STALE_AFTER, owner_dead, owner_id
from runbook_engine.store import Store

__all__ = ["SERVE_PREFIX", "announce_serve", "serve_watching", "withdraw_serve"]

SERVE_PREFIX = "runbook.serve/"


def announce_serve(store: Store) -> None:
    """This process is a serve watching ``store`` (call again to heartbeat)."""
    store.hold_presence(SERVE_PREFIX + owner_id(), owner_id())


def withdraw_serve(store: Store) -> None:
    store.drop_presence(SERVE_PREFIX + owner_id())


def serve_watching(store: Store, now: datetime | None = None) -> bool:
    """Does a live serve other than this process watch ``store``?"""
    now = now or datetime.now(UTC)
    me = owner_id()
    return any(
        holder != me and not owner_dead(holder) and (now - beat).total_seconds() < STALE_AFTER
        for holder, beat in store.presences(SERVE_PREFIX)
    )
