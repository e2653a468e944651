"""``/tokens``: admins create them, the secret is shown once, everyone lists and revokes
their own, and someone else's token is not shown to exist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from runbook_engine.auth.tokens import token_hash
from tests.api.conftest import ADMIN, ALICE, BOB, Api


def create(api: Api, **body: Any) -> dict[str, Any]:
    answer = api.as_admin.post("/tokens", json=body)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def test_creating_a_token_needs_admin(api: Api) -> None:
    before = len(api.store.list_tokens(BOB))
    answer = api.as_user(ALICE).post("/tokens", json={"user": BOB})
    assert answer.status_code == 403
    assert "administer the engine" in answer.json()["detail"]
    assert len(api.store.list_tokens(BOB)) == before


def test_the_secret_is_shown_once(api: Api) -> None:
    made = create(api, user=BOB, roles=["view"], expires="1d")
    secret = made["token"]
    assert secret.startswith("rbk_")
    assert made["user"] == BOB and made["roles"] == ["view"] and made["state"] == "active"
    expires = datetime.fromisoformat(made["expires_at"])
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(days=1)
    me = api.client(secret).get("/me").json()
    assert me["name"] == BOB and me["roles"] == ["view"] and me["via"] == f"token:{made['id']}"
    listed = api.as_admin.get("/tokens")
    assert listed.status_code == 200
    assert secret not in listed.text
    (row,) = [t for t in listed.json() if t["id"] == made["id"]]
    assert "token" not in row
    assert {k: v for k, v in made.items() if k not in ("token", "last_used_at")} == {
        k: v for k, v in row.items() if k != "last_used_at"
    }
    # nor does the store keep it
    (stored,) = [t for t in api.store.list_tokens(BOB) if t.id == made["id"]]
    assert stored.hash == token_hash(secret) and secret not in stored.hash


def test_lifetimes_and_roles_are_checked(api: Api) -> None:
    forever = create(api, user=BOB, expires="never")
    assert forever["expires_at"] is None and forever["roles"] is None
    for body in ({"user": BOB, "expires": "soon"}, {"user": BOB, "roles": ["root"]}):
        answer = api.as_admin.post("/tokens", json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["type"].endswith("/invalid-input")


def test_a_non_admin_lists_only_their_own(api: Api) -> None:
    mine = create(api, user=ALICE)
    create(api, user=BOB)
    alice = api.client(mine["token"])
    listed = alice.get("/tokens").json()
    assert listed and {t["user"] for t in listed} == {ALICE}
    assert mine["id"] in {t["id"] for t in listed}
    assert all("token" not in t for t in listed)
    assert alice.get("/tokens", params={"user": ALICE.upper()}).status_code == 200
    others = alice.get("/tokens", params={"user": BOB})
    assert others.status_code == 403
    # an admin lists anyone's
    bobs = api.as_admin.get("/tokens", params={"user": BOB}).json()
    assert bobs and {t["user"] for t in bobs} == {BOB}


def test_revoke_own_token(api: Api) -> None:
    made = create(api, user=ALICE)
    client = api.client(made["token"])
    answer = client.delete(f"/tokens/{made['id']}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "revoked" and answer.json()["revoked_at"]
    assert client.get("/me").status_code == 401  # the token that revoked itself
    (row,) = [t for t in api.as_admin.get("/tokens").json() if t["id"] == made["id"]]
    assert row["state"] == "revoked"


def test_someone_elses_token_does_not_exist(api: Api) -> None:
    alices = create(api, user=ALICE)
    bob = api.client(create(api, user=BOB)["token"])
    answer = bob.delete(f"/tokens/{alices['id']}")
    assert answer.status_code == 404
    assert answer.json()["type"].endswith("/token-not-found")
    unknown = bob.delete("/tokens/000000000000")
    assert unknown.status_code == 404
    assert (
        unknown.json()["detail"].replace("000000000000", alices["id"]) == (answer.json()["detail"])
    )  # the same answer for a token that exists and one that does not
    assert api.client(alices["token"]).get("/me").status_code == 200


def test_an_admin_revokes_anyones(api: Api) -> None:
    bobs = create(api, user=BOB)
    answer = api.as_admin.delete(f"/tokens/{bobs['id']}")
    assert answer.status_code == 200
    assert api.client(bobs["token"]).get("/me").status_code == 401


def test_a_token_made_over_the_api_is_a_person_like_any_other(api: Api) -> None:
    made = create(api, user="Bob@Example.com", roles=["approve", "view"])
    assert made["roles"] == ["approve", "view"]
    listed = api.as_user(BOB).get("/tokens").json()
    assert made["id"] in {t["id"] for t in listed}  # bob's, however it is spelt
    assert ADMIN not in {t["user"] for t in listed}
