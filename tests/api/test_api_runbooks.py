"""``/runbooks``: what the caller may view, each version's source byte for byte, diffs, and
plans for typed or text parameters."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import ALICE, HELLO_1, HELLO_2, OUTSIDER, Api

EVERY = ["crashy", "gate", "gate1", "hello", "hosts", "leads-only", "nightly", "outside-job"]


def pages(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Each page of a list, following ``next`` until there is none."""
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        answer = client.get(path, params=query)
        assert answer.status_code == 200, answer.text
        out.append(answer.json())
        cursor = out[-1]["next"]
        if cursor is None:
            return out
    raise AssertionError("the pages never ended")


def test_list_shows_the_newest_version_of_each(api: Api) -> None:
    answer = api.as_user(ALICE).get("/runbooks")
    assert answer.status_code == 200
    body = answer.json()
    assert body["next"] is None
    assert [r["name"] for r in body["items"]] == EVERY
    hello = next(r for r in body["items"] if r["name"] == "hello")
    assert hello["version"] == 2
    assert hello["digest"].startswith("sha256:")
    params = {p["name"]: p for p in hello["parameters"]}
    assert list(params) == ["who", "count", "loud", "tags"]
    assert params["count"] == {
        "name": "count",
        "type": "integer",
        "description": "",
        "required": False,
        "default": 1,
        "secret": False,
        "choices": None,
    }
    nightly = next(r for r in body["items"] if r["name"] == "nightly")
    assert nightly["scheduled"] is True and hello["scheduled"] is False


def test_list_pages_with_a_cursor(api: Api) -> None:
    seen = pages(api.as_user(ALICE), "/runbooks", limit=3)
    assert [len(p["items"]) for p in seen] == [3, 3, 2]
    names = [r["name"] for p in seen for r in p["items"]]
    assert names == EVERY  # no duplicates, no gaps, in order


def test_list_shows_only_what_the_caller_may_view(api: Api) -> None:
    # the outsider is not staff (the policy's default view): only the runbook naming them
    seen = pages(api.as_user(OUTSIDER), "/runbooks", limit=1)
    assert [r["name"] for p in seen for r in p["items"]] == ["outside-job"]


def test_show_gives_the_source_byte_for_byte(api: Api) -> None:
    client = api.as_user(ALICE)
    newest = client.get("/runbooks/hello").json()
    assert (newest["name"], newest["version"]) == ("hello", 2)
    assert newest["source"] == HELLO_2
    assert newest["file"].endswith("hello.yaml")
    first = client.get("/runbooks/hello@1").json()
    assert first["version"] == 1
    assert first["source"] == HELLO_1
    assert first["file"].endswith("hello-1.yaml")
    assert first["digest"] != newest["digest"]
    assert client.get("/runbooks/hello@2").json() == newest


def test_show_of_a_hidden_runbook_is_refused(api: Api) -> None:
    answer = api.as_user(OUTSIDER).get("/runbooks/hello")
    assert answer.status_code == 403
    assert "policy default view" in answer.json()["detail"]


def test_a_path_is_not_a_runbook_ref(api: Api) -> None:
    client = api.as_user(ALICE)
    for ref in ("x.yaml", "hello@0", "Hello", "hello@1@2"):
        answer = client.get(f"/runbooks/{ref}")
        assert answer.status_code == 422, ref
        assert answer.json()["type"].endswith("/invalid-ref")
    # a path with slashes cannot be named in the URL, but can be in a body
    answer = client.post("/runs", json={"runbook": "../x.yaml"})
    assert answer.status_code == 422
    assert "not a path" in answer.json()["detail"]
    answer = client.post("/runs", json={"runbook": "/etc/passwd"})
    assert answer.status_code == 422
    encoded = client.get("/runbooks/..%2Fx.yaml")
    assert encoded.status_code in (404, 422)  # never read as a file
    assert encoded.headers["content-type"].startswith("application/problem+json")


def test_an_unknown_version_is_404(api: Api) -> None:
    answer = api.as_user(ALICE).get("/runbooks/hello@9")
    assert answer.status_code == 404
    assert "no version 9" in answer.json()["detail"]


def test_diff_between_versions(api: Api) -> None:
    client = api.as_user(ALICE)
    body = client.get("/runbooks/hello@1/diff/hello").json()
    assert (body["left"], body["right"]) == ("hello@1", "hello@2")
    assert body["identical"] is False
    lines = body["diff"].splitlines()
    assert lines[0].startswith("--- hello@1 (sha256:")
    assert lines[1].startswith("+++ hello@2 (sha256:")
    assert "-version: 1" in lines and "+version: 2" in lines
    same = client.get("/runbooks/hello@2/diff/hello").json()
    assert same["identical"] is True and same["diff"] == ""


def test_plan_with_typed_params(api: Api) -> None:
    answer = api.as_user(ALICE).post(
        "/runbooks/hello/plan", json={"params": {"who": "bob", "count": 3, "tags": ["a", "b"]}}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["runbook"], body["version"]) == ("hello", 2)
    assert [s["id"] for s in body["steps"]] == ["greet", "bye"]
    assert body["steps"][0]["with"] == {"message": "hello bob x3 [a+b]"}
    assert body["steps"][1]["with"] == {"message": "bye bob"}


def test_plan_with_text_params(api: Api) -> None:
    client = api.as_user(ALICE)
    text = {"who": "bob", "count": "4", "tags": '["a","b"]'}
    parsed = client.post("/runbooks/hello/plan", json={"params": text, "params_from_text": True})
    assert parsed.status_code == 200, parsed.text
    assert parsed.json()["steps"][0]["with"]["message"] == "hello bob x4 [a+b]"
    # typed, the same string is a list's comma-separated text, not JSON
    typed = client.post("/runbooks/hello/plan", json={"params": text})
    assert typed.status_code == 200, typed.text
    assert typed.json()["steps"][0]["with"]["message"] == 'hello bob x4 [["a"+"b"]]'


def test_plan_of_an_older_version(api: Api) -> None:
    body = api.as_user(ALICE).post("/runbooks/hello@1/plan", json={}).json()
    assert body["version"] == 1
    assert body["steps"][0]["with"] == {"message": "hello world"}


def test_a_bad_parameter_is_422_naming_it(api: Api) -> None:
    client = api.as_user(ALICE)
    cases: dict[str, dict[str, Any]] = {
        "count": {"count": 9},
        "who": {"who": "NOT lower"},
        "loud": {"loud": "perhaps"},
        "nope": {"nope": 1},
    }
    for name, params in cases.items():
        answer = client.post("/runbooks/hello/plan", json={"params": params})
        assert answer.status_code == 422, answer.text
        body = answer.json()
        assert body["type"].endswith("/invalid-parameter")
        assert body["parameter"] == name
        assert name in body["detail"]
    started = client.post("/runs", json={"runbook": "hello", "params": {"count": 0}})
    assert started.status_code == 422
    assert started.json()["parameter"] == "count"
    assert client.get("/runs").json()["items"] == []  # nothing started
