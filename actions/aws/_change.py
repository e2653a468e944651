"""A change is either seen through or put back: the shape shared by the mutating actions.

The engine undoes *completed* steps. A step that changed capacity and then failed while waiting
(timeout, cancel, a failed deployment) is not completed, so nobody would undo it; the action puts
its own change back before failing, and a failed runbook leaves capacity where it found it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from runbook_engine.errors import ActionError

__all__ = ["seen_through"]

T = TypeVar("T")


def seen_through(wait: Callable[[], T], put_back: Callable[[], str]) -> T:
    """``wait()``; if it fails, ``put_back()`` (which says what it restored) and fail anyway.

    The error keeps its kind and retryability (a retry starts from the restored state), with
    what was put back added. If putting back fails too, the error is not retryable and says
    that the resource needs a human.
    """
    try:
        return wait()
    except ActionError as exc:
        try:
            note = put_back()
        except ActionError as undo_exc:
            raise ActionError(
                f"{exc}; putting it back failed as well: {undo_exc}; it needs fixing by hand",
                kind=exc.kind,
                retryable=False,
            ) from exc
        raise ActionError(
            f"{exc}; {note}", kind=exc.kind, retryable=exc.retryable, retry_after=exc.retry_after
        ) from exc
