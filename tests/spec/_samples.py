"""Runbook texts and helpers shared by the spec tests."""

from __future__ import annotations

import textwrap

import pytest

from runbook_engine.errors import Problem, RunbookInvalid
from runbook_engine.spec import LoadedRunbook, load_text

FILE = "runbooks/sample.yaml"

MINIMAL = """\
apiVersion: runbook/v1
name: hello
version: 1
steps:
  - id: say
    action: log
    with: {message: hello}
"""

FULL = """\
# yaml-language-server: $schema=../runbook.schema.json
apiVersion: runbook/v1
name: restart-web
version: 3
description: Restart the web tier one host at a time.
owners: ["@sre", alice]
parameters:
  host:
    type: string
    description: the host to restart
    pattern: "^web-[0-9]+$"
  count:
    type: integer
    default: 2
    minimum: 1
    maximum: 10
  ratio:
    type: number
    default: 0.5
    minimum: 0
    maximum: 1
  force:
    type: boolean
    default: false
  hosts:
    type: list
    items: string
    default: [web-1, web-2]
    min_length: 1
    max_length: 5
  env:
    type: enum
    choices: [staging, prod]
    default: staging
  token:
    type: string
    secret: true
    required: false
permissions:
  run: ["@sre", alice]
  approve: ["@sre-leads"]
concurrency:
  lock: "restart-web-{{ params.env }}"
  on_conflict: wait
  wait_timeout: 10m
schedule:
  - cron: "0 6 * * 1"
    timezone: Europe/Paris
    params: {host: web-1, env: prod}
    missed: run_once
notify:
  channel: "#ops"
  on: [start, failure, finish]
max_step_visits: 5
steps:
  - id: check
    name: Health check
    description: Is the host healthy already?
    action: shell.command
    with:
      command: "curl -fsS http://{{ params.host }}/health"
    outputs:
      healthy: "{{ result.exit_code == 0 }}"
    retry: {attempts: 3, delay: 2s, backoff: 2, max_delay: 30s, jitter: 0.1, on: any}
    timeout: 30s
    on_failure: continue
  - id: skip-if-healthy
    goto: end
    if: steps.check.outputs.healthy and not params.force
  - id: approve
    approval:
      message: "Restart {{ params.host }} in {{ params.env }}?"
      approvers: ["@sre-leads"]
      required: 1
      allow_requester: false
      timeout: 1h
      on_timeout: reject
    if: "{{ params.env == 'prod' }}"
  - id: drain
    action: shell.command
    with:
      command: "drain {{ params.host | quote }}"
    rollback:
      action: shell.command
      with: {command: "undrain {{ params.host | quote }}"}
      timeout: 1m
  - id: restart
    parallel:
      - id: restart-app
        action: shell.command
        with: {command: systemctl restart app}
        outputs: {pid: "{{ result.stdout | trim }}"}
      - id: restart-worker
        action: shell.command
        with: {command: [systemctl, restart, worker]}
    max_concurrency: 2
    on_failure: abort
  - id: route
    branch:
      - if: "steps['restart-app'].outputs.pid"
        goto: verify
      - goto: end
  - id: verify
    action: log
    with:
      message: >-
        {{ run.requester }} restarted {{ params.host }} (run {{ run.id }},
        {{ run.runbook }} v{{ run.version }}): drain {{ steps.drain.status }},
        pid {{ steps['restart-app'].outputs.pid }}, {{ steps.check.result | to_json }}
"""


def doc(text: str) -> str:
    """Dedent an inline document."""
    return textwrap.dedent(text).lstrip("\n")


def load(text: str) -> LoadedRunbook:
    return load_text(doc(text), FILE)


def problems(text: str) -> list[Problem]:
    """The problems of an invalid document (fails the test when it loads)."""
    with pytest.raises(RunbookInvalid) as info:
        load_text(doc(text), FILE)
    found = info.value.problems
    assert found, "RunbookInvalid without problems"
    for problem in found:
        assert problem.file == FILE
        assert problem.message
    return found


def one_problem(text: str) -> Problem:
    found = problems(text)
    assert len(found) == 1, "\n".join(str(p) for p in found)
    return found[0]
