"""``/hooks``: the endpoints alert senders post to, on ``runbook serve``.

Each request is authenticated (a bearer token of the ``trigger`` role, a signature, or both),
parsed into alerts (``runbook_engine.triggers``), and each firing alert that matches a
runbook's trigger starts one run, whose id the firing decides (``triggers.dedupe``), so a
repeated notification starts nothing more. See docs/alerts.md."""

from runbook_engine.hooks.app import HOOKS_PATH, Hooks

__all__ = ["HOOKS_PATH", "Hooks"]
