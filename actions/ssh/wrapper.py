"""The command line sent to the remote shell, and the one that kills it.

sshd runs an ``exec`` request as ``$SHELL -c LINE`` in a new session, so the login shell leads
its own process group. The wrapper reports that group's id on stderr (a marker line the client
removes), then ``exec``s the real command in place of the shell: every process the command
starts stays in that group or below it. When the command must stop (its timeout, a step timeout,
a cancel), closing the channel is not enough — sshd would leave a ``sleep 600`` running — so the
client runs ``kill_line`` on a second channel of the same connection: SIGTERM to the group and
to every descendant (``sudo`` moves the command into a session of its own), SIGKILL to whatever
is left after a grace period.

Environment variables (often secrets) never appear in a remote command line: ``env K=V cmd``
would put the values in the arguments of a process every user of the host can list (``ps``),
and SSH ``env`` requests are refused unless sshd's ``AcceptEnv`` lists the names. The values are
sent base64-encoded, one line each, at the start of the session's stdin (``env_stdin``); a
``/bin/sh`` preamble, started under sudo when the command is, reads them with the ``read``
builtin (which takes a pipe one byte at a time, so the command's own input is left untouched),
decodes them with ``base64 -d`` fed through a pipe, exports them and ``exec``s the command. Only
the names are in the line. The login shell is assumed to be POSIX (sh, bash, dash, zsh).
"""

from __future__ import annotations

import base64
import re
import shlex
from collections.abc import Mapping, Sequence

__all__ = ["MARKER", "PGID_LINE", "command_line", "env_stdin", "kill_line"]

#: starts the line on which the wrapper reports the process group id (\x1e: record separator,
#: a byte no sane command writes at the start of a stderr line)
MARKER = b"\x1erunbook-pgid "
PGID_LINE = re.compile(rb"\x1erunbook-pgid (\d+)\n")
#: seconds between SIGTERM and SIGKILL, in tenths as the kill script counts them
_GRACE_TENTHS = 15


def command_line(
    command: str,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    sudo: bool = False,
    sudo_user: str | None = None,
) -> str:
    """The line to ``exec`` for ``command`` (a shell command string)."""
    inner = ["/bin/sh", "-c", command]
    if env:
        # The names only: the values follow on stdin (``env_stdin``).
        inner = ["/bin/sh", "-c", _env_preamble(list(env)), "runbook-env", command]
    if sudo:
        # -n: fail at once instead of waiting for a password nobody will type
        inner = ["sudo", "-n", *(["-u", sudo_user] if sudo_user else []), "--", *inner]
    # printf's \036 is the record separator MARKER starts with.
    parts = ["printf '\\036runbook-pgid %s\\n' \"$$\" >&2"]
    if cwd:
        parts.append(f"cd -- {shlex.quote(cwd)} || exit 1")
    parts.append("exec " + shlex.join(inner))
    return "; ".join(parts)


def env_stdin(env: Mapping[str, str]) -> bytes:
    """What the session's stdin starts with for ``command_line(..., env=env)``: each value,
    in ``env``'s order, base64-encoded on a line of its own (newlines and any byte kept)."""
    return b"".join(base64.b64encode(value.encode()) + b"\n" for value in env.values())


#: the temporary variables of the preamble; numbered, so that no name in ``env`` can be one
_SLOT = "__runbook_env_{}"


def _env_preamble(names: Sequence[str]) -> str:
    """A ``/bin/sh`` script reading one value per name from stdin, then running ``$1``.

    Every value is decoded before any is exported: a ``PATH`` in ``env`` must not change
    which ``base64`` decodes the next one. ``$(...)`` drops trailing newlines, hence the
    ``x`` appended and removed. The names were checked to be identifiers (``CommandOptions``).
    """
    fail = 'echo "runbook: the environment did not arrive on stdin" >&2; exit 125'
    lines = ["__runbook_line="]
    for i, _name in enumerate(names):
        slot = _SLOT.format(i)
        lines.append(
            f"IFS= read -r __runbook_line && {slot}=$(printf '%s' \"$__runbook_line\" "
            f"| base64 -d && echo x) || {{ {fail}; }}"
        )
    for i, name in enumerate(names):
        slot = _SLOT.format(i)
        lines.append(f'{name}="${{{slot}%x}}"; export {name}; unset {slot}')
    lines.append("unset __runbook_line")
    lines.append('exec /bin/sh -c "$1"')
    return "\n".join(lines)


# The descendants of the group leader, found from ps in one pass: after the first SIGTERM,
# orphans are re-parented to init and could no longer be found. "kill -TERM -123" and no "--":
# dash's kill takes a negative pid that way and rejects "--".
_KILL = r"""g=%(pgid)d
t=$(ps -e -o pid= -o ppid= -o pgid= 2>/dev/null | awk -v g="$g" '
  { pid[NR] = $1; parent[$1] = $2; group[$1] = $3 }
  END {
    keep[g] = 1
    do {
      grew = 0
      for (i = 1; i <= NR; i++) {
        p = pid[i]
        if (!(p in keep) && ((parent[p] in keep) || group[p] == g)) { keep[p] = 1; grew = 1 }
      }
    } while (grew)
    for (p in keep) if (p != g) printf "%%s ", p
  }')
# Alive means running: a zombie (re-parented to an init that does not reap) is already dead.
alive() {
  ps -e -o pgid= -o pid= -o stat= 2>/dev/null | awk -v g="$g" -v t=" $t " '
    ($1 == g || index(t, " " $2 " ")) && $3 !~ /^Z/ { found = 1 }
    END { exit !found }'
}
for x in -"$g" $t; do kill -TERM "$x" 2>/dev/null; done
i=0
while [ "$i" -lt %(tenths)d ] && alive; do sleep 0.1; i=$((i + 1)); done
for x in -"$g" $t; do kill -KILL "$x" 2>/dev/null; done
exit 0
"""


def kill_line(pgid: int, *, sudo: bool) -> str:
    """A command that terminates process group ``pgid`` and its descendants, then SIGKILLs
    the rest; run as root through ``sudo -n`` when the command itself ran under sudo."""
    script = _KILL % {"pgid": pgid, "tenths": _GRACE_TENTHS}
    line = shlex.join(["/bin/sh", "-c", script])
    return f"sudo -n -- {line}" if sudo else line
