"""API tokens and the audit trail: the store's part of authentication (engine/auth).

A mixin of ``Store``, kept apart from the run log it has nothing to do with.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Row

from runbook_engine.store._records import JSONDict, _set_utc
from runbook_engine.store._tables import api_tokens, audit

__all__ = ["AuditRecord", "IdentityRecords", "TokenRecord"]


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API token as stored: never its secret, only the hash of it."""

    id: str
    user: str
    roles: tuple[str, ...] | None
    """The roles the token is limited to; ``None``: whatever its user may do."""
    hash: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def __post_init__(self) -> None:
        _set_utc(self, "created_at", "expires_at", "revoked_at", "last_used_at")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One mutating request: who, proved how (``via``), from where, did what to what."""

    at: datetime
    principal: str
    via: str
    source: str
    action: str
    target: str
    outcome: str
    """``ok`` or ``refused``."""
    detail: JSONDict = field(default_factory=dict)
    id: int = 0

    def __post_init__(self) -> None:
        _set_utc(self, "at")


def _token(row: Row[Any]) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        user=row.user_name,
        roles=None if row.roles is None else tuple(row.roles),
        hash=row.hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


class IdentityRecords:
    """The token and audit methods of ``Store``."""

    if TYPE_CHECKING:

        def _write(self) -> AbstractContextManager[Connection]: ...

        def _read(self) -> AbstractContextManager[Connection]: ...

    # -- API tokens ------------------------------------------------------------------

    def create_token(
        self,
        token_id: str,
        *,
        user: str,
        token_hash: str,
        roles: Sequence[str] | None = None,
        expires_at: datetime | None = None,
    ) -> TokenRecord:
        record = TokenRecord(
            id=token_id,
            user=user,
            roles=None if roles is None else tuple(roles),
            hash=token_hash,
            created_at=datetime.now(UTC),
            expires_at=expires_at,
        )
        with self._write() as conn:
            conn.execute(
                insert(api_tokens).values(
                    id=record.id,
                    user_name=record.user,
                    roles=None if record.roles is None else list(record.roles),
                    hash=record.hash,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                )
            )
        return record

    def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        with self._read() as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.hash == token_hash)).first()
        return None if row is None else _token(row)

    def list_tokens(self, user: str | None = None) -> list[TokenRecord]:
        """Tokens, oldest first (revoked and expired ones included: they say who had one)."""
        stmt = select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id)
        if user is not None:
            stmt = stmt.where(api_tokens.c.user_name == user)
        with self._read() as conn:
            return [_token(row) for row in conn.execute(stmt)]

    def revoke_token(self, token_id: str) -> bool:
        """Revoke a token; False when there is no such token or it was revoked already."""
        with self._write() as conn:
            result = conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            return bool(result.rowcount == 1)

    def touch_token(self, token_id: str, at: datetime | None = None) -> None:
        """Note when a token was last used."""
        with self._write() as conn:
            conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id)
                .values(last_used_at=at or datetime.now(UTC))
            )

    # -- audit -----------------------------------------------------------------------

    def record_audit(self, entry: AuditRecord) -> None:
        with self._write() as conn:
            conn.execute(
                insert(audit).values(
                    at=entry.at,
                    principal=entry.principal,
                    via=entry.via,
                    source=entry.source,
                    action=entry.action,
                    target=entry.target,
                    outcome=entry.outcome,
                    detail=dict(entry.detail),
                )
            )

    def record_audits(self, entries: Sequence[AuditRecord]) -> None:
        """``record_audit`` for many entries in one transaction."""
        if not entries:
            return
        rows = [
            {
                "at": e.at,
                "principal": e.principal,
                "via": e.via,
                "source": e.source,
                "action": e.action,
                "target": e.target,
                "outcome": e.outcome,
                "detail": dict(e.detail),
            }
            for e in entries
        ]
        with self._write() as conn:
            conn.execute(insert(audit), rows)

    def audit_since(
        self, since: datetime | None = None, *, limit: int = 10_000, after_id: int = 0
    ) -> list[AuditRecord]:
        """Audit entries at or after ``since``, oldest first; ``after_id``: only entries
        recorded after that one (the next page)."""
        stmt = select(audit).order_by(audit.c.at, audit.c.id).limit(limit)
        if since is not None:
            stmt = stmt.where(audit.c.at >= since)
        if after_id:
            stmt = stmt.where(audit.c.id > after_id)
        with self._read() as conn:
            return list(_audit_rows(conn.execute(stmt)))


def _audit_rows(rows: Iterator[Row[Any]]) -> Iterator[AuditRecord]:
    for row in rows:
        detail = row.detail if isinstance(row.detail, Mapping) else {}
        yield AuditRecord(
            at=row.at,
            principal=row.principal,
            via=row.via,
            source=row.source,
            action=row.action,
            target=row.target,
            outcome=row.outcome,
            detail=dict(detail),
            id=row.id,
        )
