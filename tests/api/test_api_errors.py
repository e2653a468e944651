"""Every error is a problem (RFC 9457): ``application/problem+json`` with type, title,
status, detail and instance, whichever layer refused the request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from tests.api.conftest import ALICE, Api

PROBLEM = "application/problem+json"


def problem(answer: httpx.Response, status: int, path: str) -> dict[str, Any]:
    """The problem ``answer`` carries, checked for the members every problem has."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].split(";")[0] == PROBLEM
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["instance"] == path
    return body


def test_401_without_credentials(api: Api) -> None:
    answer = api.client().get("/runs")
    body = problem(answer, 401, "/api/v1/runs")
    assert body["type"].endswith("/unauthenticated")
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_403_names_the_rule(api: Api) -> None:
    answer = api.as_user(ALICE, roles=["view"]).post("/runs", json={"runbook": "hello"})
    body = problem(answer, 403, "/api/v1/runs")
    assert body["type"].endswith("/forbidden")
    assert "view" in body["detail"]


def test_404_for_an_unknown_path(api: Api) -> None:
    answer = api.as_user(ALICE).get("/no-such-thing")
    problem(answer, 404, "/api/v1/no-such-thing")


def test_404_for_an_unknown_run(api: Api) -> None:
    answer = api.as_user(ALICE).get("/runs/000000000000")
    body = problem(answer, 404, "/api/v1/runs/000000000000")
    assert body["type"].endswith("/run-not-found")
    assert "000000000000" in body["detail"]


def test_404_for_an_unknown_runbook(api: Api) -> None:
    answer = api.as_user(ALICE).get("/runbooks/no-such-runbook")
    body = problem(answer, 404, "/api/v1/runbooks/no-such-runbook")
    assert body["type"].endswith("/runbook-not-found")


def test_405_for_a_method_a_path_does_not_take(api: Api) -> None:
    answer = api.as_user(ALICE).delete("/runbooks")
    body = problem(answer, 405, "/api/v1/runbooks")
    assert body["type"].endswith("/method-not-allowed")
    assert "GET" in answer.headers["allow"]


def test_413_for_a_body_over_one_mib(api: Api) -> None:
    client = api.as_user(ALICE)
    big = {"runbook": "hello", "params": {"who": "x" * (1 << 20)}}
    answer = client.post("/runs", json=big)
    body = problem(answer, 413, "/api/v1/runs")
    assert body["type"].endswith("/too-large")
    # nothing was started by the refused request, and the server still answers
    listed = client.get("/runs").json()
    assert listed["items"] == []


def test_422_lists_each_invalid_field(api: Api) -> None:
    answer = api.as_user(ALICE).post("/runs", json={"runbok": "hello"})
    body = problem(answer, 422, "/api/v1/runs")
    assert body["type"].endswith("/invalid-input")
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"runbook", "runbok"}  # missing, and misspelt (not ignored)
    assert all(e["message"] for e in body["errors"])


def test_422_for_a_query_out_of_range(api: Api) -> None:
    answer = api.as_user(ALICE).get("/runs", params={"limit": 0})
    body = problem(answer, 422, "/api/v1/runs")
    assert [e["field"] for e in body["errors"]] == ["query.limit"]


def test_400_for_a_cursor_the_api_did_not_give(api: Api) -> None:
    answer = api.as_user(ALICE).get("/runs", params={"cursor": "bm90IG91cnM"})
    body = problem(answer, 400, "/api/v1/runs")
    assert body["type"].endswith("/bad-cursor")


def test_not_json_is_422(api: Api) -> None:
    answer = api.as_user(ALICE).post(
        "/runs", content=b"{not json", headers={"content-type": "application/json"}
    )
    problem(answer, 422, "/api/v1/runs")


def test_413_for_a_body_without_a_declared_length(api: Api) -> None:
    # a chunked body is only found too large while it is read: the API's limit, not the
    # declared length, refuses it
    def chunks() -> Iterator[bytes]:
        yield b'{"runbook": "hello", "params": {"who": "'
        for _ in range(17):
            yield b"x" * (1 << 16)
        yield b'"}}'

    answer = api.as_user(ALICE).post(
        "/runs", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in answer.request.headers
    body = problem(answer, 413, "/api/v1/runs")
    assert body["type"].endswith("/too-large")


def test_404_for_the_log_stream_of_an_unknown_run(api: Api) -> None:
    # refused before the stream starts: a 404, not a 200 whose stream breaks
    answer = api.as_user(ALICE).get("/runs/000000000000/logs", params={"follow": "true"})
    body = problem(answer, 404, "/api/v1/runs/000000000000/logs")
    assert body["type"].endswith("/run-not-found")


def test_401_for_the_log_stream_without_credentials(api: Api) -> None:
    answer = api.client().get("/runs/000000000000/logs")
    problem(answer, 401, "/api/v1/runs/000000000000/logs")
