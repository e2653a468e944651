"""One root exception for everything the engine raises on purpose.

    RunbookError                      root; never shown with a traceback to users
    ├── RunbookInvalid                a runbook document is wrong (carries every Problem)
    ├── ParameterError                a run parameter is missing or of the wrong kind
    ├── CatalogError                  runbook not found, or same name+version with other content
    ├── TemplateError                 a template failed to render (names the field)
    ├── StoreError                    the run store refused or is unreachable
    │   ├── StoreNotFound             no store where the URL points (nothing was created)
    │   ├── RunNotFound               no run with the id given
    │   ├── StoreWriteError           a write did not happen: what the store says may be behind
    │   ├── HistoryError              an event in a run's log cannot be folded into its state
    │   └── LockHeld                  a concurrency lock is held by another run
    ├── ApprovalError                 a decision was refused (not an approver, already decided, ...)
    └── ActionError                   an action failed; carries ``retryable``, ``host``, ``kind``
        ├── ActionTimeout             the action ran past its timeout (retryable)
        ├── ActionInputError          the action's parameters are invalid (never retryable)
        └── CommandFailed             a command exited with a code not accepted

Errors carry their meaning as attributes so the runtime can decide (retry, roll back,
stop and ask a human) without parsing messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class RunbookError(Exception):
    """Root of every error the engine raises deliberately."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a runbook document, located as precisely as the input allows."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }


class RunbookInvalid(RunbookError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ParameterError(RunbookError):
    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"parameter {name!r}: {message}")


class InputRefused(RunbookError):
    """What the user asked for was refused as given (by a server's API, say), with no more
    precise class: a user error, like a bad parameter."""


class FieldError(ParameterError):
    """A value given to a field of an input step does not fit its declaration (or the field
    does not exist, or a required one is missing). ``reason``: the message without the name."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.reason = message
        RunbookError.__init__(self, f"field {name!r}: {message}")


class NotWaitingForInput(InputRefused):
    """Input was given to a run that waits for none (now)."""


class CatalogError(RunbookError):
    pass


class TemplateError(RunbookError):
    def __init__(self, message: str, *, field: str = "") -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class StoreError(RunbookError):
    pass


class StoreNotFound(StoreError):
    """The store named (by ``RUNBOOK_DB`` or a URL) does not exist; ``folder``: not even the
    folder it would be in (a mistyped location rather than a store not made yet)."""

    def __init__(self, message: str, *, folder: bool = False) -> None:
        self.folder = folder
        super().__init__(message)


class RunNotFound(StoreError):
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"no run {run_id!r}")


class StoreWriteError(StoreError):
    """A write was refused (read-only file, full disk, lost connection). Whatever the engine
    was doing may have happened without being recorded, so a person must look."""


class HistoryError(StoreError):
    """A run's log holds an event that does not fold (a log no engine wrote, or edited by
    hand): the run's state cannot be known, so nothing may drive it."""


class LockHeld(StoreError):
    def __init__(self, key: str, holder: str) -> None:
        self.key = key
        self.holder = holder
        super().__init__(f"lock {key!r} is held by run {holder}")


class ApprovalError(RunbookError):
    pass


class ActionError(RunbookError):
    """An action failed. ``kind`` is a short machine-readable cause (``timeout``,
    ``exit``, ``unreachable``, ``auth``, ``hostkey``, ``input``, ``aws``, ...)."""

    kind: str = "error"
    default_retryable: bool = True
    #: what a failed command said, where there was one (recorded with the error)
    exit_code: int | None = None
    stderr: str | None = None
    #: every host's result when a fan-out failed because hosts did
    hosts: list[dict[str, Any]] | None = None
    #: the hosts a fan-out that stopped early never started
    not_started: list[str] | None = None

    def __init__(
        self,
        message: str,
        *,
        retryable: bool | None = None,
        host: str | None = None,
        kind: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retryable = self.default_retryable if retryable is None else retryable
        self.host = host
        if kind is not None:
            self.kind = kind
        self.retry_after = retry_after
        super().__init__(f"{host}: {message}" if host else message)


class ActionTimeout(ActionError):
    kind = "timeout"


class ActionInputError(ActionError):
    kind = "input"
    default_retryable = False


class CommandFailed(ActionError):
    kind = "exit"
    exit_code: int
    stderr: str

    def __init__(self, message: str, *, exit_code: int, stderr: str = "", **kw: object) -> None:
        self.exit_code = exit_code
        self.stderr = stderr
        super().__init__(message, **kw)  # type: ignore[arg-type]  # kw are ActionError's keywords
