"""Amazon SNS notifications (an HTTP/S subscription's ``Type: Notification`` body).

When ``Message`` is a CloudWatch alarm's JSON, the alarm is the alert: ``NewStateValue``
``ALARM`` fires and ``OK`` resolves (``INSUFFICIENT_DATA`` gives no alert), the alarm's ARN is
the fingerprint and ``StateChangeTime`` when it started (for ``OK``: when it ended; the OK
message does not say when the alarm began). Any other message is a text alert, fired when it
is published, the message id as fingerprint (SNS delivers a message again with the same id).

The labels a trigger can match:

    CloudWatch alarm   alarm_name, alarm_arn, account_id, region, state (ALARM, OK),
                       old_state, metric_name, namespace, topic_arn, subject, and each of
                       the metric's dimensions as dimension_<Name> (dimension_InstanceId)
    text message       topic_arn, subject

Subscription confirmations are not notifications: confirming one is the endpoint's job.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from runbook_engine.triggers.alert import Alert
from runbook_engine.triggers.fields import Fields

NOTIFICATION = "Notification"


def _alarm_message(text: str) -> Mapping[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, dict) and "AlarmName" in data and "NewStateValue" in data:
        return data
    return None


def parse_sns(body: Any) -> list[Alert]:
    f = Fields("sns")
    top = f.obj(body, "")
    kind = f.text(top, "Type", "")
    if kind != NOTIFICATION:
        raise f.error("Type", f"expected {NOTIFICATION!r}, got {kind[:40]!r} (not an alert)")
    message = f.text(top, "Message", "")
    topic = f.text(top, "TopicArn", "")
    subject = f.text(top, "Subject", "", required=False)
    alarm = _alarm_message(message)
    if alarm is not None:
        return _alarm(f, alarm, topic, subject)
    published = f.time(top, "Timestamp", "")
    labels = {"topic_arn": topic, "subject": subject}
    return [
        Alert(
            source="sns",
            fingerprint=f.text(top, "MessageId", ""),
            status="firing",
            starts_at=published,
            ends_at=None,
            labels={k: v for k, v in labels.items() if v},
            annotations={"message": message},
            summary=subject or message.strip().split("\n", 1)[0][:200],
        )
    ]


def _alarm(f: Fields, alarm: Mapping[str, Any], topic: str, subject: str) -> list[Alert]:
    path = "Message"
    state = f.text(alarm, "NewStateValue", path)
    if state == "INSUFFICIENT_DATA":
        return []
    if state not in ("ALARM", "OK"):
        expected = "expected ALARM, OK or INSUFFICIENT_DATA"
        raise f.error(f"{path}.NewStateValue", f"{expected}, got {state[:40]!r}")
    name = f.text(alarm, "AlarmName", path)
    account = f.text(alarm, "AWSAccountId", path, required=False)
    region = f.text(alarm, "Region", path, required=False)
    arn = f.text(alarm, "AlarmArn", path, required=False)
    changed = f.time(alarm, "StateChangeTime", path)
    labels = {
        "alarm_name": name,
        "alarm_arn": arn,
        "account_id": account,
        "region": region,
        "state": state,
        "old_state": f.text(alarm, "OldStateValue", path, required=False),
        "topic_arn": topic,
        "subject": subject,
    }
    trigger = alarm.get("Trigger")
    if trigger is not None:
        where = f"{path}.Trigger"
        metric = f.obj(trigger, where)
        labels["metric_name"] = f.text(metric, "MetricName", where, required=False)
        labels["namespace"] = f.text(metric, "Namespace", where, required=False)
        dims = metric.get("Dimensions") or []
        for i, raw in enumerate(f.items(dims, f"{where}.Dimensions")):
            at = f"{where}.Dimensions[{i}]"
            dim = f.obj(raw, at)
            # CloudWatch writes these two keys in lower case, unlike the rest of the message
            labels[f"dimension_{f.text(dim, 'name', at)}"] = f.text(dim, "value", at)
    annotations = {
        "description": f.text(alarm, "AlarmDescription", path, required=False),
        "reason": f.text(alarm, "NewStateReason", path, required=False),
    }
    firing = state == "ALARM"
    return [
        Alert(
            source="sns",
            # an alarm without its ARN (older messages) is named by account, region and name
            fingerprint=arn or f"{account}:{region}:{name}",
            status="firing" if firing else "resolved",
            starts_at=changed if firing else None,
            ends_at=None if firing else changed,
            labels={k: v for k, v in labels.items() if v},
            annotations={k: v for k, v in annotations.items() if v},
            summary=subject or name,
        )
    ]
