"""The OpenAPI document describes every route and how to authenticate; /schedules, /report
and /me answer in the shapes it promises."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.api.conftest import ALICE, OUTSIDER, Api

PATHS = {
    "/runbooks": {"get"},
    "/runbooks/{ref}": {"get"},
    "/runbooks/{ref}/diff/{other}": {"get"},
    "/runbooks/{ref}/plan": {"post"},
    "/runs": {"get", "post"},
    "/runs/{run_id}": {"get"},
    "/runs/{run_id}/events": {"get"},
    "/runs/{run_id}/logs": {"get"},
    "/runs/{run_id}/approve": {"post"},
    "/runs/{run_id}/input": {"post"},
    "/runs/{run_id}/reject": {"post"},
    "/runs/{run_id}/cancel": {"post"},
    "/runs/{run_id}/resume": {"post"},
    "/schedules": {"get"},
    "/report": {"get"},
    "/tokens": {"get", "post"},
    "/tokens/{token_id}": {"delete"},
    "/me": {"get"},
    "/audit": {"get"},
    "/runs/{run_id}/rerun": {"post"},
}


def test_the_document_lists_every_path_and_the_bearer_scheme(api: Api) -> None:
    answer = api.client().get("/openapi.json")  # readable without credentials
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    doc = json.loads(answer.content)
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] == "Runbook Engine API"
    verbs = {"get", "post", "delete", "put", "patch"}
    listed = {path: set(ops) & verbs for path, ops in doc["paths"].items()}
    assert listed == PATHS
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"]["type"] == "http"
    assert schemes["bearer"]["scheme"].lower() == "bearer"
    # every operation asks for it
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert {"bearer": []} in op.get("security", []), (method, path)


def test_the_document_describes_the_bodies(api: Api) -> None:
    doc = api.client().get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert {"runbook", "params", "params_from_text"} <= set(schemas["RunCreate"]["properties"])
    assert schemas["RunCreate"]["required"] == ["runbook"]
    created = doc["paths"]["/runs"]["post"]["responses"]
    assert "201" in created
    assert "token" in schemas["NewToken"]["properties"]
    assert "token" not in schemas["Token"]["properties"]


def test_me_names_the_caller(api: Api) -> None:
    token = api.token(ALICE, roles=["view", "run"])
    body = api.client(token).get("/me").json()
    assert body["name"] == ALICE
    assert body["via"].startswith("token:")
    assert body["roles"] == ["run", "view"]
    assert body["groups"] == []


def test_schedules_lists_the_next_fire_times(api: Api) -> None:
    answer = api.as_user(ALICE).get("/schedules", params={"count": 2})
    assert answer.status_code == 200
    (entry,) = answer.json()
    assert entry["runbook"] == "nightly"
    assert entry["version"] == 1
    assert entry["schedule"] == 0
    assert entry["cron"] == "0 3 * * *"
    assert entry["timezone"] == "UTC"
    assert entry["missed"] == "skip"
    assert entry["params"] == {}
    times = [datetime.fromisoformat(t) for t in entry["next"]]
    assert len(times) == 2
    now = datetime.now(UTC)
    assert now < times[0] < times[1] <= now + timedelta(days=2)
    assert all(t.hour == 3 and t.minute == 0 for t in times)


def test_schedules_shows_only_viewable_runbooks(api: Api) -> None:
    assert api.as_user(OUTSIDER).get("/schedules").json() == []


def test_report_covers_the_scheduled_runbooks(api: Api) -> None:
    since = datetime.now(UTC) - timedelta(days=1)
    answer = api.as_user(ALICE).get("/report", params={"since": since.isoformat()})
    assert answer.status_code == 200
    body = answer.json()
    assert datetime.fromisoformat(body["since"]) == since
    (row,) = body["runbooks"]
    assert row["runbook"] == "nightly"
    assert {"passed", "failed", "running", "skipped_ticks", "failed_checks"} <= set(row)
    assert row["passed"] == row["failed"] == 0
    assert api.as_user(OUTSIDER).get("/report").json()["runbooks"] == []


def test_report_defaults_to_the_last_week(api: Api) -> None:
    body = api.as_user(ALICE).get("/report").json()
    since = datetime.fromisoformat(body["since"])
    assert timedelta(days=6, hours=23) < datetime.now(UTC) - since < timedelta(days=7, hours=1)
