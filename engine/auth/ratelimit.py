"""Failed authentications per source address: a token bucket, so guessing is slow.

Each address has a bucket of ``burst`` failures that refills at ``burst`` per ``per`` seconds.
A failure takes one; with the bucket empty, the address is refused (HTTP 429) before its
credentials are even looked at, until one has refilled (``Retry-After``). Successful requests
take nothing, so a busy client with a good token is never slowed. Other addresses have buckets
of their own: one guesser does not lock everyone out.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("runbook.auth")

#: addresses tracked at most; the longest idle are forgotten first (a flood of addresses
#: must not grow memory without bound; a forgotten address starts with a full bucket)
MAX_SOURCES = 10_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class FailureLimiter:
    def __init__(
        self,
        burst: int = 10,
        per: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_sources: int = MAX_SOURCES,
    ) -> None:
        self.burst = burst
        self.rate = burst / per  # failures forgiven per second
        self.clock = clock
        self.max_sources = max_sources
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def _bucket(self, source: str, now: float) -> _Bucket:
        bucket = self._buckets.get(source)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
            self._buckets[source] = bucket
            while len(self._buckets) > self.max_sources:
                self._buckets.popitem(last=False)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
            self._buckets.move_to_end(source)
        return bucket

    def retry_after(self, source: str) -> int | None:
        """Seconds ``source`` must wait before trying again, or ``None`` when it may try."""
        with self._lock:
            now = self.clock()
            bucket = self._bucket(source, now)
            if bucket.tokens >= 1:
                return None
            return max(1, math.ceil((1 - bucket.tokens) / self.rate))

    def failed(self, source: str, reason: str) -> None:
        """Count a failed authentication from ``source`` and log it (``reason`` never holds
        the credential)."""
        with self._lock:
            bucket = self._bucket(source, self.clock())
            bucket.tokens = max(0.0, bucket.tokens - 1)
            left = int(bucket.tokens)
        log.warning("authentication failed from %s: %s (%d tries left)", source, reason, left)
