"""One host's output stream: logged line by line as it arrives, kept up to a cap.

The cap is per host and per stream and smaller than ``shell.command``'s: a fan-out keeps the
output of every host in its result (and so in the run's store), a thousand hosts at a time.
"""

from __future__ import annotations

from runbook_engine.actions._output import OutputCapture
from runbook_engine.actions.ssh.wrapper import MARKER, PGID_LINE
from runbook_engine.plugin.contract import ActionContext

__all__ = ["MAX_OUTPUT", "HostOutput", "MarkerFilter"]

#: bytes of stdout (and, separately, stderr) a host's result keeps: the first and the last half;
#: the run log has every line (up to the step's cap, RUNBOOK_MAX_STEP_OUTPUT)
MAX_OUTPUT = 64 * 1024
#: a "line" longer than this is logged in pieces
_MAX_LINE = 16 * 1024


class HostOutput(OutputCapture):
    """Logs ``{host}: {line}`` (``{host}: stderr: {line}``) and keeps the head and the tail of
    the stream."""

    def __init__(self, ctx: ActionContext, host: str, *, stderr: bool = False) -> None:
        prefix = f"{host}: stderr: " if stderr else f"{host}: "
        super().__init__(ctx, prefix=prefix, max_bytes=MAX_OUTPUT, max_line=_MAX_LINE)


class MarkerFilter:
    """Takes the wrapper's process-group line out of stderr and remembers the id.

    The marker is the first thing the wrapper writes, but a login script may write before it,
    so stderr is held back only until the marker (or a first full line that cannot be its
    start) has been seen.
    """

    def __init__(self, sink: HostOutput) -> None:
        self._sink = sink
        self._held = b""
        self.pgid: int | None = None
        self._done = False

    def feed(self, data: bytes) -> None:
        if self._done:
            self._sink.feed(data)
            return
        self._held += data
        found = PGID_LINE.search(self._held)
        if found is not None:
            self.pgid = int(found.group(1))
            rest = self._held[: found.start()] + self._held[found.end() :]
            self._release(rest)
            return
        start = self._held.find(MARKER[:1])
        if start < 0:
            # No marker in sight: pass complete lines through, hold a partial last line.
            cut = self._held.rfind(b"\n") + 1
            if cut:
                self._sink.feed(self._held[:cut])
                self._held = self._held[cut:]
        elif start > 0:
            self._sink.feed(self._held[:start])
            self._held = self._held[start:]
        if len(self._held) > 4096:
            self._release(self._held)

    def finish(self) -> None:
        self._release(self._held)
        self._sink.finish()

    def text(self) -> str:
        return self._sink.text()

    @property
    def truncated(self) -> bool:
        return self._sink.truncated

    @property
    def total_bytes(self) -> int:
        return self._sink.total_bytes

    def _release(self, data: bytes) -> None:
        self._done = True
        self._held = b""
        if data:
            self._sink.feed(data)
