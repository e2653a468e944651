"""Issue 14, point 3: a value a template derives from a secret (upper, lower, a slice, a
reversal, an encoding) is masked like the secret itself: in the store (so `show`, `logs`,
JSON logs), in output lines, in results and in errors; also after the run is picked up again.
Step outputs can be marked secret. The plan shows what the run would print."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from runbook_engine.plan import build_plan
from runbook_engine.secret_texts import MIN_DERIVED, SecretTexts, encodings
from runbook_engine.service import Engine
from runbook_engine.store import Store
from tests.runtime.runtime_actions import BOARD
from tests.runtime.runtime_helpers import of_type, runbook

TOKEN = "Tok3n-derived-Value"
DERIVED = [
    TOKEN.upper(),
    TOKEN.lower(),
    TOKEN[::-1],
    TOKEN[:9],
    base64.b64encode(TOKEN.encode()).decode(),
    quote(TOKEN, safe=""),
]


def _everything(store: Store, run_id: str, tmp_path: Path) -> list[str]:
    row = store.get_run(run_id)
    assert row is not None
    texts = [json.dumps(e.data) for e in store.events(run_id)]
    texts += [json.dumps(row.params), json.dumps(row.state)]
    return texts


def test_values_derived_from_a_secret_never_reach_the_store(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    loaded = runbook(
        """
        parameters: {token: {type: string, secret: true}}
        steps:
          - id: headers
            action: test.record
            with:
              name: headers
              value: {Authorization: "Bearer {{ params.token | upper }}"}
          - id: forms
            action: shell.command
            with:
              command: >-
                echo "{{ params.token | lower }} {{ params.token[::-1] }} {{ params.token[:9] }}"
                && printf %s "$T" | base64 && echo
              env: {T: "{{ params.token }}"}
            outputs:
              low: "{{ params.token | lower }}"
              fetched: {value: "{{ result.stdout.split()[0] }}", secret: true}
          - id: query
            action: log
            with: {message: "url ?t={{ params.token | urlencode }}"}
          - id: boom
            action: fail
            with: {message: "failed with {{ params.token | upper }}"}
        """
    )
    out = engine.start(loaded, {"token": TOKEN}, requester="alice")
    assert out.status == "failed"
    # the actions got the real values
    assert ("record", "headers", {"Authorization": f"Bearer {TOKEN.upper()}"}) in BOARD.journal
    for text in _everything(store, out.run_id, tmp_path):
        for form in [TOKEN, *DERIVED]:
            assert form not in text, form
    (started,) = of_type(store, out.run_id, "step.started", "headers")
    assert started.data["with"]["value"] == {"Authorization": "Bearer ***"}
    (forms,) = of_type(store, out.run_id, "step.succeeded", "forms")
    assert forms.data["outputs"] == {"low": "***", "fetched": "***"}
    assert forms.data["result"]["stdout"].split() == ["***", "***", "***", "***"]
    (failed,) = of_type(store, out.run_id, "step.failed", "boom")
    assert failed.data["error"]["message"] == "failed with ***"
    # nowhere in the database files either
    for path in tmp_path.glob("r.db*"):
        raw = path.read_bytes()
        for form in [TOKEN, *DERIVED]:
            assert form.encode() not in raw, form


def test_a_secret_output_is_masked_from_the_step_on(engine: Engine, store: Store) -> None:
    """An output marked secret (say a password a command fetched) is masked in its own result
    and in everything later steps print."""
    fetched = "fetched-Passw0rd-42"
    loaded = runbook(
        """
        steps:
          - id: fetch
            action: shell.command
            with: {command: "printf 'fetched-%s-%s' Passw0rd 42"}
            outputs: {password: {value: "{{ result.stdout | trim }}", secret: true}}
          - id: later
            action: shell.command
            with: {command: "printf 'the password is fetched-%s-42' Passw0rd"}
        """
    )
    out = engine.start(loaded, {}, requester="alice")
    assert out.status == "succeeded"
    texts = [json.dumps(e.data) for e in store.events(out.run_id)]
    assert all(fetched not in text for text in texts)
    (later,) = of_type(store, out.run_id, "step.succeeded", "later")
    assert later.data["result"]["stdout"] == "the password is ***"
    # the step's own lines, held until its outputs were known, are masked too
    lines = [
        line for e in of_type(store, out.run_id, "step.output", "fetch") for line in e.data["lines"]
    ]
    assert lines == ["***"]


def test_derived_values_are_masked_after_the_run_is_picked_up_again(
    engine: Engine, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drive after an approval has not rendered the first step's template, yet what that
    step derived comes back in later output: it is derived again when the run is loaded."""
    kept = tmp_path / "kept.txt"
    loaded = runbook(
        f"""
        parameters: {{token: {{type: string, secret: true}}}}
        steps:
          - id: keep
            action: file.write
            with: {{path: "{kept}", content: "{{{{ params.token | upper }}}}"}}
          - {{id: ok, approval: {{message: "go?"}}}}
          - id: show
            action: shell.command
            with: {{command: "cat {kept}"}}
        """
    )
    out = engine.start(loaded, {"token": TOKEN}, requester="alice", wait_for_approval=False)
    assert out.status == "waiting_approval"
    engine.decide(out.run_id, user="bob", approve=True)
    monkeypatch.setenv("RUNBOOK_SECRET_TOKEN", TOKEN)
    done = engine.resume(out.run_id, by="bob")
    assert done.status == "succeeded"
    assert kept.read_text() == TOKEN.upper()
    (show,) = of_type(store, out.run_id, "step.succeeded", "show")
    assert show.data["result"]["stdout"] == "***"
    lines = [line for e in of_type(store, out.run_id, "step.output") for line in e.data["lines"]]
    assert lines and all(TOKEN.upper() not in line for line in lines)


def test_the_plan_masks_what_the_run_masks() -> None:
    loaded = runbook(
        """
        parameters: {token: {type: string, secret: true}, who: {type: string}}
        steps:
          - id: call
            action: log
            with: {message: "{{ params.who }} {{ params.token | upper }} {{ params.token[::-1] }}"}
        """
    )
    (step,) = build_plan(loaded, {"token": TOKEN, "who": "alice"})
    assert step["with"]["message"] == "alice *** ***"


def test_encodings_and_short_derived_values() -> None:
    forms = encodings("a b/c")
    assert {"a b/c", "a%20b%2Fc", "a+b%2Fc", "YSBiL2M=", "YSBiL2M"} <= forms
    texts = SecretTexts(["pin"])
    assert "pin" in texts.texts  # a given secret is masked whatever its length
    assert not texts.learn([20, True, "on"])  # derived, too short to carry a secret
    assert texts.learn(["DERIVED"])
    assert "DERIVED" in texts.texts and base64.b64encode(b"DERIVED").decode() in texts.texts
    assert len("on") < MIN_DERIVED
    # longest first, so that a longer secret is masked whole
    assert list(texts.texts) == sorted(texts.texts, key=len, reverse=True)
