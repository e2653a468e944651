"""``/runbook`` command text: what was asked for, parsed before anything is done about it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

VERBS = ("help", "list", "run", "status", "approve", "reject", "cancel")

HELP = """\
*`/runbook` commands*
• `/runbook list` — the runbooks you can run
• `/runbook run NAME [key=value ...]` — start a run (a form asks for missing parameters)
• `/runbook status [RUN]` — recent runs, or one run's steps
• `/runbook approve RUN [reason]` — approve the step a run waits on
• `/runbook reject RUN reason...` — reject it (completed steps are rolled back)
• `/runbook cancel RUN [reason]` — stop a run and roll back its completed steps
Quote values with spaces: `reason="disk full on db-1"`."""

# Slack turns typed quotes into typographic ones; shlex only knows the plain kind
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


class CommandError(ValueError):
    pass


@dataclass(frozen=True)
class Command:
    verb: str
    args: tuple[str, ...] = ()

    @property
    def rest(self) -> str:
        return " ".join(self.args)


def parse(text: str) -> Command:
    try:
        words = shlex.split(text.translate(_QUOTES))
    except ValueError as exc:
        raise CommandError(f"cannot read the command: {exc}") from None
    if not words:
        return Command("help")
    verb, args = words[0].lower(), tuple(words[1:])
    if verb not in VERBS:
        raise CommandError(f"unknown command {verb!r}; try `/runbook help`")
    if verb in ("run", "approve", "reject", "cancel") and not args:
        what = "a runbook name" if verb == "run" else "a run id"
        raise CommandError(f"`/runbook {verb}` needs {what}")
    if verb == "reject" and len(args) < 2:
        raise CommandError("`/runbook reject RUN reason...` needs a reason")
    return Command(verb, args)
