"""An output stream of a command (local or remote): logged line by line as it arrives, and its
first and last bytes kept for the step's result, with secrets masked in both.

What the result keeps is bounded (``max_bytes`` per stream: half from the start, half from the
end) however much the command prints; the run log has every line, up to the step's own cap
(``RUNBOOK_MAX_STEP_OUTPUT``, see ``runbook_engine.runtime.invoke.LineBuffer``).
"""

from __future__ import annotations

import codecs

from runbook_engine.actions._common import redact
from runbook_engine.plugin.contract import ActionContext

__all__ = ["OutputCapture"]


class OutputCapture:
    """Logs ``prefix + line`` for each line; keeps the first and the last ``max_bytes // 2``
    bytes of the stream for the result."""

    def __init__(self, ctx: ActionContext, *, prefix: str, max_bytes: int, max_line: int) -> None:
        self._ctx = ctx
        self._prefix = prefix
        self._half = max(1, max_bytes // 2)
        self._max_line = max_line  # a "line" longer than this is logged in pieces
        self._head = bytearray()
        self._tail = bytearray()
        self._total = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def feed(self, data: bytes) -> None:
        self._total += len(data)
        room = self._half - len(self._head)
        if room > 0:
            self._head += data[:room]
            data_tail = data[room:]
        else:
            data_tail = data
        if data_tail:
            self._tail += data_tail
            # Trim only once the tail is twice its share, so trimming stays amortised O(1).
            if len(self._tail) > 2 * self._half:
                del self._tail[: len(self._tail) - self._half]
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

    @property
    def total_bytes(self) -> int:
        """Bytes the stream carried in all."""
        return self._total

    @property
    def truncated(self) -> bool:
        """Whether ``text`` leaves out the middle of the stream."""
        return self._total > len(self._head) + min(len(self._tail), self._half)

    def text(self) -> str:
        """What was kept, decoded and redacted; when the middle was dropped, a line in its
        place says how many bytes."""
        tail = bytes(self._tail[-self._half :]) if self._tail else b""
        dropped = self._total - len(self._head) - len(tail)
        if dropped <= 0:
            raw = bytes(self._head) + tail
            return redact(raw.decode("utf-8", errors="replace"), self._ctx.secrets)
        head = redact(bytes(self._head).decode("utf-8", errors="replace"), self._ctx.secrets)
        end = redact(tail.decode("utf-8", errors="replace"), self._ctx.secrets)
        return f"{head}\n[... {dropped} bytes truncated ...]\n{end}"

    def _emit(self, line: str) -> None:
        self._ctx.log(self._prefix + redact(line.removesuffix("\r"), self._ctx.secrets))
