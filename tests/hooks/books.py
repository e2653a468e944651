"""The runbooks the hook tests start, one per source and behaviour."""

from __future__ import annotations

APPROVER = "bob@example.com"

# Alertmanager: a run per firing alert, waiting at an approval; cancelled on resolve
DISK = f"""\
apiVersion: runbook/v1
name: disk
version: 1
description: cleans a full disk
permissions:
  approve: [{APPROVER}]
parameters:
  host: {{type: string, pattern: "[a-z0-9-]+"}}
triggers:
  - alertmanager:
      match: {{alertname: DiskFull}}
      params: {{host: "{{{{ alert.labels.instance }}}}"}}
      on_resolved: cancel
steps:
  - id: look
    action: log
    with: {{message: "disk on {{{{ params.host }}}}, alert {{{{ alert.fingerprint }}}}"}}
  - id: approve
    approval: {{message: clean?}}
  - {{id: clean, action: log, with: {{message: cleaned}}}}
"""

# the generic webhook: a cooldown, and a lock key read from the alert
DEPLOY = """\
apiVersion: runbook/v1
name: deploy-check
version: 1
description: looks at a failed deploy
parameters:
  service: {type: string}
concurrency: {lock: "deploy-{{ alert.labels.service }}"}
triggers:
  - webhook:
      name: deploy
      params: {service: "{{ alert.labels.service }}"}
      cooldown: 1h
steps:
  - {id: look, action: log, with: {message: "{{ alert.summary }} on {{ params.service }}"}}
"""

# a thousand alerts at once, three runs at a time (each waits for an approval: holds its slot)
FLOOD = f"""\
apiVersion: runbook/v1
name: flood
version: 1
description: many alerts, few runs
permissions:
  approve: [{APPROVER}]
parameters:
  n: {{type: string}}
triggers:
  - webhook:
      name: flood
      params: {{n: "{{{{ alert.labels.n }}}}"}}
      max_concurrent: 3
      on_resolved: cancel
steps:
  - id: approve
    approval: {{message: go?}}
"""

PAGE = """\
apiVersion: runbook/v1
name: page
version: 1
description: on a PagerDuty incident
parameters:
  title: {type: string}
triggers:
  - pagerduty:
      match: {service: API Service}
      params: {title: "{{ alert.labels.title }}"}
steps:
  - {id: look, action: log, with: {message: "{{ params.title }}"}}
"""

ALARM = """\
apiVersion: runbook/v1
name: alarm
version: 1
description: on a CloudWatch alarm through SNS
parameters:
  alarm: {type: string}
triggers:
  - sns:
      match: {state: ALARM}
      params: {alarm: "{{ alert.labels.alarm_name }}"}
steps:
  - {id: look, action: log, with: {message: "{{ params.alarm }}"}}
"""

RUNBOOKS = {
    "disk.yaml": DISK,
    "deploy.yaml": DEPLOY,
    "flood.yaml": FLOOD,
    "page.yaml": PAGE,
    "alarm.yaml": ALARM,
}
