"""How a host's thread waits: a file descriptor that becomes readable when the step is
cancelled, and the selector the waits go through.

A host's thread waits for its channel with a selector; putting this descriptor in the same
selector lets a cancel (or step timeout) wake every host at once, without each of a hundred
threads polling ``ctx.cancelled`` twenty times a second while slow hosts take their time.
"""

from __future__ import annotations

import os
import selectors
import threading

__all__ = ["CancelWakeup", "wait_selector"]

#: how often the watcher looks whether the step is over (it sleeps on the event in between)
_WATCH = 1.0


def wait_selector() -> selectors.BaseSelector:
    """A selector for one thread's waits.

    poll(2): select(2) refuses descriptors numbered 1024 and above, which a process holding a
    pool of a thousand connections hands out; epoll would cost one more descriptor per
    waiting host, and descriptors are what the pool's size is made of (see ``limits``).
    """
    if hasattr(selectors, "PollSelector"):
        return selectors.PollSelector()
    return selectors.DefaultSelector()


class CancelWakeup:
    """Readable once ``event`` is set; ``close`` when the step is done."""

    def __init__(self, event: threading.Event) -> None:
        self._event = event
        self._read, self._write = os.pipe()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._watch, name="ssh-cancel", daemon=True)
        self._thread.start()

    def fileno(self) -> int:
        return self._read

    def _watch(self) -> None:
        while not self._closed:
            if self._event.wait(_WATCH):
                with self._lock:
                    if not self._closed:
                        os.write(self._write, b"x")
                return

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.close(self._write)
            os.close(self._read)
