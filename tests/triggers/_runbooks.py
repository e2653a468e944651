"""Runbooks with triggers and the payload files, shared by the trigger tests."""

from __future__ import annotations

from pathlib import Path

from runbook_engine.spec import LoadedRunbook, load_text

PAYLOADS = Path(__file__).resolve().parent / "payloads"

DISK = """\
apiVersion: runbook/v1
name: disk-cleanup
version: 2
parameters:
  host: {type: string, pattern: "[a-z0-9-]+"}
  mount: {type: string, default: /}
  percent: {type: integer, default: 90}
  reason: {type: string, default: ""}
triggers:
  - alertmanager:
      match:
        alertname: DiskFull
        instance: "~(web|db)-[0-9]+:9100"
        severity: {equals: page}
      params:
        host: "{{ alert.labels.instance.split(':')[0] }}"
        mount: "{{ alert.labels.mountpoint }}"
        reason: "{{ alert.annotations.summary }} ({{ alert.fingerprint }})"
      on_resolved: cancel
      cooldown: 10m
      max_concurrent: 2
  - webhook:
      name: disk
      params: {host: "{{ alert.labels.host }}", percent: 95}
steps:
  - id: clean
    action: log
    with: {message: "clean {{ params.mount }} on {{ params.host }}"}
"""

API = """\
apiVersion: runbook/v1
name: api-triage
version: 1
parameters:
  service: {type: string}
  incident: {type: string, default: ""}
  token: {type: string, secret: true, required: false}
triggers:
  - pagerduty:
      match: {service: API Service, urgency: high, priority: "~P[12]"}
      params:
        service: "{{ alert.labels.service }}"
        incident: "{{ alert.fingerprint }}"
  - sns:
      match: {alarm_name: "~api-.*", state: ALARM}
      params:
        service: "{{ alert.labels.dimension_LoadBalancer }}"
        token: "{{ alert.labels.region }}"
      on_resolved: cancel
steps:
  - id: look
    action: log
    with: {message: "triage {{ params.service }}"}
"""


def disk() -> LoadedRunbook:
    return load_text(DISK, "runbooks/disk-cleanup.yaml")


def api() -> LoadedRunbook:
    return load_text(API, "runbooks/api-triage.yaml")


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()
