"""Which Slack requests this server has already handled, by the request's own identity.

Slack delivers again when it got no answer in time, marking the copy ``X-Slack-Retry-Num``.
That header says a delivery was *sent* before, not that it arrived: the first may have been
lost on the way, or refused by a server that was restarting. So a retry is dropped only when
its identity (the event id, the trigger id, else the body's digest) was seen here, and a
delivery this server failed to handle (HTTP 5xx) is forgotten so its retry does the work.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

#: Slack retries within minutes (at once, after 1 minute, after 5); an hour is ample
KEEP_SECONDS = 3600.0
#: a bound on memory whatever arrives; the oldest identities go first
KEEP_MOST = 10_000


class Deliveries:
    """A thread-safe, bounded memory of request identities."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS, keep_most: int = KEEP_MOST) -> None:
        self.keep_seconds = keep_seconds
        self.keep_most = keep_most
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, identity: str, now: float | None = None) -> bool:
        """True the first time ``identity`` arrives (it is remembered from now on)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            while self._seen:
                oldest, at = next(iter(self._seen.items()))
                if now - at <= self.keep_seconds and len(self._seen) < self.keep_most:
                    break
                del self._seen[oldest]
            if identity in self._seen:
                return False
            self._seen[identity] = now
            return True

    def forget(self, identity: str) -> None:
        """The delivery was not handled: let a retry of it in."""
        with self._lock:
            self._seen.pop(identity, None)
