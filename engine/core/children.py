"""The id of a call step's child run: derived, never drawn, so that every engine that drives
the parent (a crash, a takeover) finds the one child a step entry started."""

from __future__ import annotations

import hashlib

#: the first character of a child run's id: a run whose id starts so may have a parent (its
#: ``run.created`` says), so the engine reads that event only for such runs
CHILD_RUN_PREFIX = "c"


def child_run_id(parent: str, step: str, visit: int) -> str:
    """The child run the ``visit``-th entry of ``step`` in run ``parent`` starts (a goto that
    comes back to the step starts another). 16 characters: as unique as a drawn id."""
    digest = hashlib.sha256(f"{parent}/{step}/{visit}".encode()).hexdigest()
    return CHILD_RUN_PREFIX + digest[:15]
