"""Who is posting: a bearer token (Alertmanager, generic webhooks), a signature (PagerDuty,
SNS, generic webhooks too), each failure counted against the sending address.

An address over the failed-authentication limit is refused (429) before anything it sent is
looked at, exactly as at the API; the limiter is the API's own, so failures at either door
count together."""

from __future__ import annotations

from runbook_engine.auth.authenticate import Authenticator, AuthError
from runbook_engine.auth.principal import Principal
from runbook_engine.hooks.refusal import Refused, count

#: roles that may post alerts; a token limited to others (``view``) is refused at the door
TRIGGER_ROLES = frozenset({"trigger", "admin"})


def hook_principal(source: str, address: str) -> Principal:
    """Who a signed notification acts as: the source itself, which may only trigger."""
    return Principal(source, roles=frozenset({"trigger"}), via=f"hook:{source}", source=address)


class Gate:
    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator
        self.limiter = authenticator.limiter

    def admit(self, address: str) -> None:
        """Refuse (429) an address that failed too often, before reading what it sent."""
        wait = self.limiter.retry_after(address)
        if wait is not None:
            raise Refused("too many failed authentications", status=429, retry_after=wait)

    def bearer(self, authorization: str | None, address: str) -> Principal:
        """The token's principal; ``Refused`` (already counted by the authenticator)."""
        try:
            principal = self.authenticator.authenticate(authorization, address)
        except AuthError as exc:
            raise Refused(
                exc.reason, status=exc.status, retry_after=exc.retry_after, counted=True
            ) from None
        if principal.roles is not None and not principal.roles & TRIGGER_ROLES:
            held = ", ".join(sorted(principal.roles)) or "none"
            raise Refused(f"{principal.name}'s token allows only {held}, not trigger", 403)
        return principal

    def failed(self, address: str, path: str, refused: Refused) -> None:
        count(self.limiter, address, path, refused)
