"""Every mutating request leaves an audit entry naming who asked, how they proved it
(``token:<id>``, ``oidc:<sub>``) and from which address, allowed or refused."""

from __future__ import annotations

from datetime import UTC, datetime

from runbook_engine.auth.tokens import token_hash
from runbook_engine.store import AuditRecord
from tests.api.conftest import ADMIN, ALICE, BOB, Api


def entries(api: Api, since: datetime, action: str, target: str | None = None) -> list[AuditRecord]:
    return [
        e
        for e in api.store.audit_since(since)
        if e.action == action and (target is None or e.target == target)
    ]


def token_id(api: Api, secret: str) -> str:
    record = api.store.token_by_hash(token_hash(secret))
    assert record is not None
    return record.id


def test_start_approve_and_cancel_are_audited(api: Api) -> None:
    since = datetime.now(UTC)
    alice_token, bob_token = api.token(ALICE), api.token(BOB)
    alice, bob = api.client(alice_token), api.client(bob_token)
    first = alice.post("/runs", json={"runbook": "gate1"}).json()["id"]
    api.wait_settled(first, "waiting_approval")
    assert bob.post(f"/runs/{first}/approve", json={"reason": "ok"}).status_code == 200
    second = alice.post("/runs", json={"runbook": "gate1"}).json()["id"]
    api.wait_settled(second, "waiting_approval")
    assert alice.post(f"/runs/{second}/cancel", json={"reason": "no"}).status_code == 200
    api.wait_status(first, "succeeded")

    (started,) = entries(api, since, "start", first)
    assert (started.principal, started.via, started.source) == (
        ALICE,
        f"token:{token_id(api, alice_token)}",
        "127.0.0.1",
    )
    assert started.outcome == "ok"
    (approved,) = entries(api, since, "approve", first)
    assert (approved.principal, approved.via, approved.source, approved.outcome) == (
        BOB,
        f"token:{token_id(api, bob_token)}",
        "127.0.0.1",
        "ok",
    )
    assert approved.detail["reason"] == "ok"
    (cancelled,) = entries(api, since, "cancel", second)
    assert (cancelled.principal, cancelled.source, cancelled.outcome) == (ALICE, "127.0.0.1", "ok")
    assert cancelled.detail["reason"] == "no"


def test_refusals_are_audited(api: Api) -> None:
    since = datetime.now(UTC)
    viewer = api.token(BOB, roles=["view"])
    answer = api.client(viewer).post("/runs", json={"runbook": "hello"})
    assert answer.status_code == 403
    (refused,) = entries(api, since, "start", "hello")
    assert refused.outcome == "refused"
    assert (refused.principal, refused.via, refused.source) == (
        BOB,
        f"token:{token_id(api, viewer)}",
        "127.0.0.1",
    )
    run_id = api.as_user(ALICE).post("/runs", json={"runbook": "gate1"}).json()["id"]
    api.wait_settled(run_id, "waiting_approval")
    assert api.as_user(ALICE).post(f"/runs/{run_id}/approve").status_code == 403
    (own,) = entries(api, since, "approve", run_id)
    assert own.outcome == "refused" and own.principal == ALICE


def test_an_unauthenticated_mutation_is_audited(api: Api) -> None:
    since = datetime.now(UTC)
    answer = api.client().post("/runs", json={"runbook": "hello"})
    assert answer.status_code == 401
    api.client("rbk_not-a-token").post("/runs/abc/cancel")
    api.client().get("/runs")  # a read refused is logged, not audited
    found = [e for e in api.store.audit_since(since) if e.principal == "(unauthenticated)"]
    assert [(e.action, e.target, e.outcome) for e in found] == [
        ("POST /api/v1/runs", "/api/v1/runs", "refused"),
        ("POST /api/v1/runs/abc/cancel", "/api/v1/runs/abc/cancel", "refused"),
    ]
    assert all(e.via == "none" and e.source == "127.0.0.1" for e in found)
    assert found[0].detail == {"reason": "no Authorization header", "status": 401}
    assert found[1].detail["reason"] == "unknown token"
    assert "rbk_not-a-token" not in str(found[1].detail)


def test_token_changes_are_audited(api: Api) -> None:
    since = datetime.now(UTC)
    admin_token = api.token(ADMIN)
    admin = api.client(admin_token)
    made = admin.post("/tokens", json={"user": BOB, "roles": ["view"]}).json()
    assert admin.delete(f"/tokens/{made['id']}").status_code == 200
    assert api.as_user(ALICE).post("/tokens", json={"user": ALICE}).status_code == 403
    assert api.as_user(ALICE).delete(f"/tokens/{token_id(api, admin_token)}").status_code == 404

    created = entries(api, since, "token.create")
    assert [(e.principal, e.target, e.outcome) for e in created] == [
        (ADMIN, made["id"], "ok"),
        (ALICE, ALICE, "refused"),
    ]
    assert created[0].via == f"token:{token_id(api, admin_token)}"
    assert created[0].detail == {"user": BOB, "roles": ["view"]}
    assert made["token"] not in str(created[0].detail)
    revoked = entries(api, since, "token.revoke")
    assert [(e.principal, e.target, e.outcome) for e in revoked] == [
        (ADMIN, made["id"], "ok"),
        (ALICE, token_id(api, admin_token), "refused"),
    ]
    assert all(e.source == "127.0.0.1" for e in created + revoked)


def test_an_oidc_caller_is_audited_by_subject(api: Api) -> None:
    since = datetime.now(UTC)
    answer = api.client(api.jwt(sub="00u9xyz")).post("/runs", json={"runbook": "leads-only"})
    assert answer.status_code == 201, answer.text
    (started,) = entries(api, since, "start", answer.json()["id"])
    assert (started.principal, started.via, started.source) == (
        "Alice@Example.com",
        "oidc:00u9xyz",
        "127.0.0.1",
    )


def test_the_audit_trail_over_the_api(api: Api) -> None:
    since = datetime.now(UTC)
    api.client().post("/runs", json={"runbook": "hello"})
    assert api.as_user(ALICE).get("/audit").status_code == 403
    page = api.as_admin.get("/audit", params={"since": since.isoformat()})
    assert page.status_code == 200, page.text
    (entry,) = page.json()["items"]
    assert entry["principal"] == "(unauthenticated)" and entry["source"] == "127.0.0.1"
