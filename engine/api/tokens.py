"""``/tokens``: API tokens, managed over the API. Creating one needs the ``admin`` role (a
token is an identity: minting one for someone is acting as them); anyone may list and revoke
their own, admins everyone's. Every change is audited with who made it and how they proved it.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request

from runbook_engine.api.context import context_of
from runbook_engine.api.models import NewToken, Token, TokenCreate
from runbook_engine.api.problems import ApiProblem
from runbook_engine.api.security import Caller, is_admin, permit
from runbook_engine.auth.audit import REFUSED, Attempt
from runbook_engine.auth.principal import Principal, name_key
from runbook_engine.auth.tokens import create_token, parse_lifetime, revoke_token, token_state
from runbook_engine.store import TokenRecord

router = APIRouter(prefix="/tokens", tags=["tokens"])


def token_view(token: TokenRecord) -> Token:
    return Token(
        id=token.id,
        user=token.user,
        roles=None if token.roles is None else list(token.roles),
        state=token_state(token),
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
    )


def _lifetime(text: str | None) -> timedelta | None:
    try:
        return parse_lifetime(text)
    except ValueError as exc:
        raise ApiProblem(422, "invalid-input", f"expires: {exc}", field="expires") from None


def _audit(request: Request, caller: Principal, attempt: Attempt) -> None:
    context_of(request).trail.record(caller, attempt)


@router.post("", status_code=201, response_model=NewToken, summary="Create a token")
def create(request: Request, caller: Caller, body: TokenCreate) -> NewToken:
    """A new token for ``user``, shown in this response only; the store keeps its hash."""
    detail = {"user": body.user, "roles": body.roles}
    try:
        permit(request, caller, "admin")
    except ApiProblem as exc:
        _audit(
            request,
            caller,
            Attempt(
                "token.create", body.user, caller.name, REFUSED, {**detail, "reason": exc.detail}
            ),
        )
        raise
    lifetime = _lifetime(body.expires)
    made = create_token(context_of(request).store, body.user, roles=body.roles, lifetime=lifetime)
    _audit(request, caller, Attempt("token.create", made.record.id, caller.name, detail=detail))
    return NewToken(**token_view(made.record).model_dump(), token=made.secret)


@router.get("", response_model=list[Token], summary="List tokens")
def list_tokens(request: Request, caller: Caller, user: str | None = None) -> list[Token]:
    """Tokens, oldest first, never their secrets: the caller's own, or (admins) anyone's."""
    store = context_of(request).store
    if is_admin(request, caller):
        tokens = store.list_tokens(user)
    else:
        if user is not None and name_key(user) != caller.key:
            raise ApiProblem(403, "forbidden", f"{caller.name} may list only their own tokens")
        tokens = [t for t in store.list_tokens() if name_key(t.user) == caller.key]
    return [token_view(t) for t in tokens]


@router.delete("/{token_id}", response_model=Token, summary="Revoke a token")
def revoke(request: Request, caller: Caller, token_id: str) -> Token:
    """The token stops working at once."""
    store = context_of(request).store
    token = next((t for t in store.list_tokens() if t.id == token_id), None)
    own = token is not None and name_key(token.user) == caller.key
    if token is None or not (own or is_admin(request, caller)):
        # someone else's token is not shown to exist
        _audit(
            request,
            caller,
            Attempt("token.revoke", token_id, caller.name, REFUSED, {"reason": "unknown token"}),
        )
        raise ApiProblem(404, "token-not-found", f"token {token_id} does not exist")
    revoke_token(store, token_id)
    _audit(request, caller, Attempt("token.revoke", token_id, caller.name))
    revoked = next(t for t in store.list_tokens() if t.id == token_id)
    return token_view(revoked)
