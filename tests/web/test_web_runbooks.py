"""The runbooks pages against a real server: the list and its permission filtering, a runbook's
source, versions and diffs, and starting a run from its form (the plan, the CSRF-checked
start, the CLI's messages, secrets never sent back to the browser)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from html import unescape

import httpx
import pytest
from click.testing import CliRunner

from runbook_engine.auth.principal import Principal
from runbook_engine.cli import main
from runbook_engine.errors import RunbookError
from runbook_engine.store import RunRecord
from runbook_engine.web.runbooks import Plan, Plans
from tests.api.conftest import ALICE, BOB, CAROL, DAVE, OUTSIDER, wait_for
from tests.web.conftest import Console, csrf_of, serving

SECRET = "s3cr3t-Token-42"

DEPLOY_1 = f"""\
apiVersion: runbook/v1
name: deploy
version: 1
description: ships a service
permissions:
  run: [{ALICE}, {BOB}]
parameters:
  env: {{type: enum, choices: [staging, production], default: staging}}
steps:
  - {{id: ship, action: log, with: {{message: "shipping to {{{{ params.env }}}}"}}}}
"""

DEPLOY_2 = f"""\
apiVersion: runbook/v1
name: deploy
version: 2
description: ships a service, carefully
permissions:
  run: [{ALICE}, {BOB}]
parameters:
  env: {{type: enum, choices: [staging, production], default: staging}}
  dry_run: {{type: boolean, default: true, description: only say what would change}}
  replicas: {{type: integer, default: 2, minimum: 1, maximum: 10}}
  hosts: {{type: list, default: [web1]}}
  token: {{type: string, secret: true, description: the deploy token}}
steps:
  - id: ship
    action: log
    with:
      message: >-
        shipping to {{{{ params.env }}}} x{{{{ params.replicas }}}} with {{{{ params.token }}}}
  - id: check
    action: log
    with:
      message: "dry run {{{{ params.dry_run }}}} on {{{{ params.hosts | join(',') }}}}"
"""

# viewable by staff (the policy's default), runnable by carol only
CAROLS = f"""\
apiVersion: runbook/v1
name: carols
version: 1
description: carol's own
permissions:
  run: [{CAROL}]
steps:
  - {{id: one, action: log, with: {{message: one}}}}
"""

# bob or alice starts it, either approves the other's run
RELEASE = f"""\
apiVersion: runbook/v1
name: release
version: 1
description: a release someone else approves
permissions:
  run: [{ALICE}, {BOB}]
  approve: [{ALICE}, {BOB}]
steps:
  - id: approve
    approval: {{message: release?}}
  - {{id: go, action: log, with: {{message: released}}}}
"""

EXTRA = {
    "deploy-1.yaml": DEPLOY_1,
    "deploy.yaml": DEPLOY_2,
    "carols.yaml": CAROLS,
    "release.yaml": RELEASE,
}


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with serving(tmp_path_factory.mktemp("web-runbooks"), EXTRA) as made:
        yield made


@pytest.fixture(scope="module")
def alice(console: Console) -> httpx.Client:
    return console.as_user(ALICE)


def run_in(console: Console, run_id: str, *statuses: str) -> RunRecord:
    """The run's row once it is in one of ``statuses``."""

    def probe() -> RunRecord | None:
        record = console.store.get_run(run_id)
        return record if record is not None and record.status in statuses else None

    return wait_for(f"run {run_id} to be {' or '.join(statuses)}", probe)


def text_of(html: str) -> str:
    """The page's text, tags removed and whitespace collapsed, for reading assertions."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def plan_of(console: Console, client: httpx.Client, name: str, **fields: str) -> httpx.Response:
    """POST the run form of ``name`` with ``fields`` (parameter name: text)."""
    page = client.get(f"/runbooks/{name}/run")
    assert page.status_code == 200, page.text
    data = {"csrf_token": csrf_of(page.text), **{f"p.{k}": v for k, v in fields.items()}}
    return client.post(f"/runbooks/{name}/run", data=data)


def plan_id_of(html: str) -> str:
    found = re.search(r'name="plan" value="([^"]+)"', html)
    assert found is not None, "the page has no Start form"
    return found.group(1)


# --------------------------------------------------------------------------- the list


def test_signed_out_visitors_are_sent_to_sign_in(console: Console) -> None:
    answer = console.client().get("/runbooks/deploy")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=/runbooks/deploy"


def test_the_list_shows_what_the_user_may_view(console: Console, alice: httpx.Client) -> None:
    answer = alice.get("/runbooks")
    assert answer.status_code == 200
    text = text_of(answer.text)
    assert "deploy 2 ships a service, carefully" in text
    assert "nightly 1 a scheduled check yes" in text
    assert "hello 2" in text
    assert 'href="/runbooks/deploy/run"' in answer.text
    assert 'href="/runbooks/carols/run"' not in answer.text  # viewable, not runnable


def test_the_outsider_sees_only_the_runbook_naming_him(console: Console) -> None:
    text = text_of(console.as_user(OUTSIDER).get("/runbooks").text)
    assert "outside-job" in text
    assert "deploy" not in text
    assert "hello" not in text


# --------------------------------------------------------------------------- one runbook


def test_a_runbook_page_shows_the_newest_source_and_versions(alice: httpx.Client) -> None:
    answer = alice.get("/runbooks/deploy")
    assert answer.status_code == 200
    assert "ships a service, carefully" in answer.text
    assert unescape(answer.text).count("version: 2") == 1  # the source, byte for byte
    assert "token: {type: string, secret: true" in unescape(answer.text)
    assert 'href="/runbooks/deploy/diff?from=1&amp;to=2"' in answer.text
    assert 'href="/runbooks/deploy?version=1"' in answer.text
    assert "deploy-1.yaml" in answer.text
    assert 'href="/runbooks/deploy/run"' in answer.text


def test_an_older_version_is_shown_with_a_link_to_the_newest(alice: httpx.Client) -> None:
    answer = alice.get("/runbooks/deploy?version=1")
    assert answer.status_code == 200
    text = text_of(answer.text)
    assert "This is version 1; the newest is version 2" in text
    assert "dry_run" not in unescape(answer.text).split("Versions")[0]


def test_a_version_a_run_used_is_listed_from_the_store(
    console: Console, alice: httpx.Client
) -> None:
    started = console.api(ALICE).post("/runs", json={"runbook": "hello@1"})
    assert started.status_code == 201, started.text
    text = text_of(alice.get("/runbooks/hello").text)
    assert re.search(r"1 [0-9a-f:sha]+ file \S*hello-1.yaml ; store, recorded 20", text), text


def test_the_diff_between_two_versions(alice: httpx.Client) -> None:
    answer = alice.get("/runbooks/deploy/diff", params={"from": 1, "to": 2})
    assert answer.status_code == 200
    html = unescape(answer.text)
    assert "<del>-version: 1</del>" in html
    assert "<ins>+version: 2</ins>" in html
    assert "<strong>--- deploy@1 (sha256:" in html
    assert (
        "<ins>+  token: {type: string, secret: true, description: the deploy token}</ins>" in html
    )
    assert "<span> steps:</span>" in html


def test_a_diff_of_a_version_with_itself_is_empty(alice: httpx.Client) -> None:
    answer = alice.get("/runbooks/deploy/diff", params={"from": 2, "to": 2})
    assert answer.status_code == 200
    assert "The two versions are identical." in answer.text


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/runbooks/nope", 404),
        ("/runbooks/deploy?version=7", 404),
        ("/runbooks/deploy/diff?from=1&to=9", 404),
        ("/runbooks/deploy/diff?from=x&to=2", 422),
        ("/runbooks/Bad..Name", 404),
        ("/runbooks/nope/run", 404),
    ],
)
def test_what_does_not_exist(alice: httpx.Client, path: str, status: int) -> None:
    assert alice.get(path).status_code == status


def test_a_runbook_one_may_not_view_is_refused(console: Console) -> None:
    outsider = console.as_user(OUTSIDER)
    for path in ("/runbooks/deploy", "/runbooks/deploy/diff?from=1&to=2", "/runbooks/deploy/run"):
        answer = outsider.get(path)
        assert answer.status_code == 403, path
        assert "may not view deploy" in answer.text


# --------------------------------------------------------------------------- the run form


def test_the_form_has_a_field_per_parameter(alice: httpx.Client) -> None:
    html = alice.get("/runbooks/deploy/run").text
    assert '<select id="param-env" name="p.env"' in html
    assert '<option value="staging" selected>' in html
    assert re.search(
        r'<input type="checkbox" id="param-dry_run" name="p.dry_run" value="true"'
        r" checked",
        html,
    )
    assert re.search(
        r'<input type="number" id="param-replicas" name="p.replicas" value="2"'
        r' min="1" max="10" step="1"',
        html,
    )
    assert '<input type="text" id="param-hosts" name="p.hosts" value="web1"' in html
    assert 'name="more" value="hosts"' in html  # "Add another hosts item", no script needed
    assert '<input type="password" id="param-token" name="p.token" value=""' in html
    assert "only say what would change" in html


def test_the_form_needs_the_run_permission(console: Console, alice: httpx.Client) -> None:
    answer = alice.get("/runbooks/carols/run")
    assert answer.status_code == 403
    assert f"{ALICE} may not run carols" in unescape(answer.text)
    # a runbook page offers no Run button to who may not run it
    assert 'href="/runbooks/carols/run"' not in alice.get("/runbooks/carols").text
    assert 'href="/runbooks/carols/run"' in console.as_user(CAROL).get("/runbooks/carols").text


def test_a_view_only_token_gets_no_form(console: Console) -> None:
    viewer = console.as_user(ALICE, roles=["view"])
    assert viewer.get("/runbooks/deploy").status_code == 200
    assert viewer.get("/runbooks/deploy/run").status_code == 403


def test_a_post_without_the_csrf_token_is_refused(console: Console, alice: httpx.Client) -> None:
    for path in ("/runbooks/deploy/run", "/runbooks/deploy/start"):
        answer = alice.post(path, data={"p.token": SECRET, "plan": "x"})
        assert answer.status_code == 403, path
        answer = alice.post(path, data={"csrf_token": "forged", "p.token": SECRET, "plan": "x"})
        assert answer.status_code == 403, path
    assert console.store.list_runs(runbook="deploy") == []


def test_wrong_values_come_back_with_the_clis_messages(
    console: Console, alice: httpx.Client
) -> None:
    answer = plan_of(
        console, alice, "deploy", env="prod", replicas="11", hosts="a\nb", token=SECRET
    )
    assert answer.status_code == 422
    html = unescape(answer.text)
    # what `runbook run deploy -p env=prod` and `-p replicas=11` say, after "error: "
    assert "parameter 'env': expected one of staging, production; got 'prod'" in html
    assert "parameter 'replicas': expected at most 10, got 11" in html
    # what was typed comes back, the secret does not
    assert 'name="p.replicas" value="11"' in html
    assert 'name="p.hosts" value="a"' in html and 'name="p.hosts" value="b"' in html
    assert SECRET not in html
    assert '<input type="password" id="param-token" name="p.token" value=""' in html
    assert 'name="p.dry_run" value="true" aria-describedby' in html  # unticked: it was not sent


@pytest.mark.parametrize(
    ("fields", "pairs"),
    [
        ({"replicas": "0", "token": SECRET}, ["replicas=0", f"token={SECRET}"]),
        ({"replicas": "2.5", "token": SECRET}, ["replicas=2.5", f"token={SECRET}"]),
        ({"env": "Staging", "token": SECRET}, ["env=Staging", f"token={SECRET}"]),
        ({"env": "staging"}, ["env=staging"]),
    ],
)
def test_each_message_is_what_runbook_plan_says(
    console: Console, alice: httpx.Client, fields: dict[str, str], pairs: list[str]
) -> None:
    """The CLI itself, run beside the server on its runbooks: its ``error:`` line, word for
    word, is the form's message."""
    args = ["plan", "deploy"]
    for pair in pairs:
        args += ["-p", pair]
    said = CliRunner().invoke(main, args, catch_exceptions=False)
    assert said.exit_code != 0
    line = said.stderr.strip().splitlines()[-1]
    assert line.startswith("error: parameter "), said.stderr
    answer = plan_of(console, alice, "deploy", dry_run="true", **fields)
    assert answer.status_code == 422
    assert line.removeprefix("error: ") in unescape(answer.text)


def test_a_missing_required_parameter_says_so_as_the_cli_does(
    console: Console, alice: httpx.Client
) -> None:
    answer = plan_of(console, alice, "deploy", env="staging", dry_run="true")
    assert answer.status_code == 422
    assert "parameter 'token': is required (the deploy token); pass -p token=..." in unescape(
        answer.text
    )


def test_the_plan_masks_the_secret(console: Console, alice: httpx.Client) -> None:
    answer = plan_of(
        console, alice, "deploy", env="production", replicas="3", hosts="web1\nweb2", token=SECRET
    )
    assert answer.status_code == 200, answer.text
    html = unescape(answer.text)
    assert SECRET not in html
    assert "shipping to production x3 with ***" in html
    assert "dry run False on web1,web2" in html  # the unticked box: false
    assert "Start the run" in html
    assert plan_id_of(answer.text)
    assert console.store.list_runs(runbook="deploy") == []  # a plan starts nothing


def test_start_runs_the_plan_and_lands_on_the_run(console: Console, alice: httpx.Client) -> None:
    planned = plan_of(console, alice, "deploy", env="staging", dry_run="true", token=SECRET)
    assert planned.status_code == 200, planned.text
    plan_id = plan_id_of(planned.text)
    data = {"csrf_token": csrf_of(planned.text), "plan": plan_id}
    started = alice.post("/runbooks/deploy/start", data=data)
    assert started.status_code == 303, started.text
    run_id = started.headers["location"].removeprefix("/runs/")
    record = run_in(console, run_id, "succeeded")
    landed = alice.get(started.headers["location"])
    assert landed.status_code == 200
    assert SECRET not in landed.text
    assert record.requester == ALICE
    assert record.runbook == "deploy"
    assert record.version == 2
    assert record.params == {
        "env": "staging",
        "dry_run": True,
        "replicas": 2,
        "hosts": ["web1"],
        "token": "***",
    }
    logged = " ".join(str(e.data) for e in console.store.events(run_id))
    assert "with ***" in logged
    assert SECRET not in logged
    # a second click on Start: the same run, not a second one
    again = alice.post("/runbooks/deploy/start", data=data)
    assert again.status_code == 303
    assert again.headers["location"] == f"/runs/{run_id}"
    assert [r.id for r in console.store.list_runs(runbook="deploy")] == [run_id]


def test_a_plan_is_only_its_users(console: Console, alice: httpx.Client) -> None:
    planned = plan_of(console, alice, "deploy", token=SECRET)
    bob = console.as_user(BOB)
    page = bob.get("/runbooks/deploy/run")
    answer = bob.post(
        "/runbooks/deploy/start",
        data={"csrf_token": csrf_of(page.text), "plan": plan_id_of(planned.text)},
    )
    assert answer.status_code == 409
    assert "That plan has expired or was not made here" in answer.text


def test_a_refused_start_is_shown_on_the_plan(
    console: Console, alice: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned = plan_of(console, alice, "deploy", token=SECRET)

    def stopping(*args: object, **kwargs: object) -> str:
        raise RunbookError("the server is stopping; ask again in a minute")

    monkeypatch.setattr(console.server.executor, "start", stopping)
    data = {"csrf_token": csrf_of(planned.text), "plan": plan_id_of(planned.text)}
    refused = alice.post("/runbooks/deploy/start", data=data)
    assert refused.status_code == 400, refused.text
    text = text_of(refused.text)
    assert "Not started: the server is stopping; ask again in a minute" in text
    assert "Start the run" in text  # the plan is still there, to try again
    assert SECRET not in refused.text
    monkeypatch.undo()
    started = alice.post("/runbooks/deploy/start", data=data)
    assert started.status_code == 303


def test_a_start_needs_the_run_permission(console: Console) -> None:
    carol = console.as_user(CAROL)
    page = carol.get("/runbooks/deploy/run")
    assert page.status_code == 403
    answer = carol.post("/runbooks/deploy/start", data={"csrf_token": csrf_of(page.text)})
    assert answer.status_code == 403
    assert f"{CAROL} may not run deploy" in unescape(answer.text)


def test_dave_may_not_run_deploy(console: Console) -> None:
    dave = console.as_user(DAVE)
    assert dave.get("/runbooks/deploy").status_code == 200
    assert dave.get("/runbooks/deploy/run").status_code == 403


def test_changing_the_parameters_fills_the_form_again(
    console: Console, alice: httpx.Client
) -> None:
    planned = plan_of(console, alice, "deploy", env="production", replicas="3", token=SECRET)
    data = {"csrf_token": csrf_of(planned.text), "plan": plan_id_of(planned.text)}
    again = alice.post("/runbooks/deploy/edit", data=data)
    assert again.status_code == 200
    assert 'name="p.replicas" value="3"' in again.text
    assert '<option value="production" selected>' in again.text
    assert SECRET not in again.text
    # a plan that is not there: the form as it starts
    fresh = alice.post("/runbooks/deploy/edit", data={**data, "plan": "nope"})
    assert 'name="p.replicas" value="2"' in fresh.text


def _plan(user: str = "alice@example.com", made: float = 0.0) -> Plan:
    return Plan(user, "deploy", 2, "sha256:x", {"token": SECRET}, {}, {}, [], made)


def test_plans_expire_and_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    plans = Plans(lifetime=60.0, limit=2)
    alice, bob = Principal(ALICE), Principal(BOB)
    monkeypatch.setattr(time, "time", lambda: 1000.0)
    first = plans.keep(_plan(made=1000.0))
    assert plans.get(first, alice) is not None
    assert plans.get(first, Principal(ALICE.upper())) is not None  # one person, any case
    assert plans.get(first, bob) is None
    monkeypatch.setattr(time, "time", lambda: 1061.0)
    assert plans.get(first, alice) is None  # expired
    kept = [plans.keep(_plan(made=1061.0)) for _ in range(3)]
    assert plans.get(kept[0], alice) is None  # the oldest went first
    assert all(plans.get(k, alice) is not None for k in kept[1:])
    plans.drop(kept[1])
    assert plans.get(kept[1], alice) is None
