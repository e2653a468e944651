"""An output stream of a command (local or remote): logged line by line as it arrives, and its
last bytes kept for the step's result, with secrets masked in both."""

from __future__ import annotations

import codecs

from runbook_engine.actions._common import redact
from runbook_engine.plugin.contract import ActionContext

__all__ = ["OutputCapture"]


class OutputCapture:
    """Logs ``prefix + line`` for each line and keeps the last ``max_bytes`` of the stream."""

    def __init__(self, ctx: ActionContext, *, prefix: str, max_bytes: int, max_line: int) -> None:
        self._ctx = ctx
        self._prefix = prefix
        self._max_bytes = max_bytes
        self._max_line = max_line  # a "line" longer than this is logged in pieces
        self._raw = bytearray()
        self._dropped = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def feed(self, data: bytes) -> None:
        self._raw += data
        # Trim only once the buffer is twice the cap, so trimming stays amortised O(1) per byte.
        if len(self._raw) > 2 * self._max_bytes:
            self._trim()
        self._pending += self._decoder.decode(data)
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._emit(line)
        while len(self._pending) > self._max_line:
            self._emit(self._pending[: self._max_line])
            self._pending = self._pending[self._max_line :]

    def finish(self) -> None:
        """Log a last line that had no newline."""
        self._pending += self._decoder.decode(b"", final=True)
        if self._pending:
            self._emit(self._pending)
            self._pending = ""

    def text(self) -> str:
        """Everything kept, decoded and redacted, with a note when the head was dropped."""
        self._trim()
        text = redact(bytes(self._raw).decode("utf-8", errors="replace"), self._ctx.secrets)
        if self._dropped:
            return f"[... {self._dropped} bytes truncated ...]\n{text}"
        return text

    def _trim(self) -> None:
        excess = len(self._raw) - self._max_bytes
        if excess > 0:
            del self._raw[:excess]
            self._dropped += excess

    def _emit(self, line: str) -> None:
        self._ctx.log(self._prefix + redact(line.removesuffix("\r"), self._ctx.secrets))
