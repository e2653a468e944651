"""Who acts on the CLI.

Without ``RUNBOOK_SERVER`` the CLI opens the store itself and acts as ``RUNBOOK_USER`` or the
login name (``approve --as`` names someone else: whoever can open the store can write
anything to it, so a name is all there is to check). With ``RUNBOOK_SERVER`` set, the server
decides who is acting from the credential it is shown; a name given here could only be a
claim, so ``RUNBOOK_USER`` and ``--as`` are refused rather than silently ignored.
"""

from __future__ import annotations

import os
import socket

from runbook_engine.auth.principal import Principal
from runbook_engine.errors import ApprovalError
from runbook_engine.identity import current_user

SERVER_VAR = "RUNBOOK_SERVER"


class IdentityClaimed(ApprovalError):
    """A name was given where the server decides who is acting."""


def server_mode() -> bool:
    return bool(os.environ.get(SERVER_VAR, "").strip())


def acting_user(as_user: str | None = None) -> str:
    """The name the CLI acts as; ``IdentityClaimed`` in server mode when one is claimed."""
    if server_mode():
        if as_user:
            raise IdentityClaimed(
                f"--as is refused with {SERVER_VAR} set: the server acts as the user of your "
                "token or login, and --as works only on a local store"
            )
        if os.environ.get("RUNBOOK_USER"):
            raise IdentityClaimed(
                f"RUNBOOK_USER is refused with {SERVER_VAR} set: the server acts as the user "
                "of your token or login; unset RUNBOOK_USER"
            )
    return as_user or current_user()


def acting_principal(as_user: str | None = None) -> Principal:
    return Principal.local(acting_user(as_user), source=f"cli@{socket.gethostname()}")
