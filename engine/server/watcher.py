"""Serve's ear on the store: wakes the sweeper's ``catch_up`` as soon as another process writes
(a decision from the CLI, a run started there, a worker's step), instead of at the next sweep.

It also keeps serve's presence lease fresh (``runbook_engine.presence``), so the CLI knows a
serve watches the store and leaves decided runs to it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from runbook_engine.errors import StoreError
from runbook_engine.lease import HEARTBEAT_EVERY
from runbook_engine.presence import announce_serve, withdraw_serve
from runbook_engine.store import Store

log = logging.getLogger("runbook.server.watcher")

#: the longest one wait on the feed lasts: how often the presence lease is looked at
WAIT = 1.0
#: after a wake-up, wait this long for the rest of a burst of writes before looking
SETTLE = 0.02


class StoreWatcher:
    def __init__(self, store: Store, on_change: Callable[[], object]) -> None:
        self.store = store
        self.on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="store-watcher", daemon=True)

    def start(self) -> None:
        announce_serve(self.store)  # before the first look: a CLI deciding now leaves it to us
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and withdraw the presence lease, without waiting for the thread: a
        wait on the feed may last up to ``WAIT``, and the server's shutdown must not (runs are
        to stop at the step they are in). A catch-up that begins now finds the executor
        closed or the store draining."""
        self._stop.set()
        try:
            withdraw_serve(self.store)
        except StoreError as exc:
            log.warning("could not withdraw serve's presence from the store: %s", exc)

    def _loop(self) -> None:
        feed = self.store.change_feed()
        beat_at = time.monotonic() + HEARTBEAT_EVERY
        try:
            while not self._stop.is_set():
                changed = feed.wait(WAIT)
                if self._stop.is_set():
                    return
                try:
                    if time.monotonic() >= beat_at:
                        announce_serve(self.store)
                        beat_at = time.monotonic() + HEARTBEAT_EVERY
                    if changed:
                        time.sleep(SETTLE)
                        self.on_change()
                except Exception:
                    log.exception("acting on a store change failed")
        finally:
            feed.close()
