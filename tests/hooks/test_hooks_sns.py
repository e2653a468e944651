"""Amazon SNS: the message's signature, checked with the certificate at SigningCertURL (only
SNS's hosts, or RUNBOOK_SNS_CERT_HOSTS in tests); subscription confirmations GET their
SubscribeURL under the same rule."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hooks.serving import Serving, results
from tests.hooks.sns_fake import TOPIC, FakeSns, fake_sns

PAYLOADS = Path(__file__).resolve().parents[1] / "triggers" / "payloads"


@pytest.fixture
def sns(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSns]:
    with fake_sns() as fake:
        monkeypatch.setenv("RUNBOOK_SNS_CERT_HOSTS", fake.host)
        yield fake


def alarm(message_id: str, name: str) -> dict[str, object]:
    data = json.loads((PAYLOADS / "sns-alarm.json").read_text())
    inner = json.loads(data["Message"])
    inner["AlarmName"] = name
    inner["AlarmArn"] = f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{name}"
    keep = ("Type", "MessageId", "TopicArn", "Subject", "Timestamp")
    return {**{k: data[k] for k in keep}, "MessageId": message_id, "Message": json.dumps(inner)}


def post(serving: Serving, message: dict[str, object]):
    body = json.dumps(message).encode()
    return serving.post("/hooks/sns", body, {"Content-Type": "text/plain; charset=UTF-8"})


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_alarm_starts_one_run(serving: Serving, sns: FakeSns, version: str) -> None:
    message = sns.sign(alarm(f"m-{version}", f"api-5xx-v{version}"), version)
    [started] = results(post(serving, message))
    assert started["result"] == "started", started
    serving.wait_status(started["run_id"], "succeeded")
    record = serving.store.get_run(started["run_id"])
    assert record is not None and record.requester == "sns"
    assert record.params == {"alarm": f"api-5xx-v{version}"}
    [again] = results(post(serving, message))
    assert again["result"] == "duplicate"


def test_a_subscription_is_confirmed_through_its_url(serving: Serving, sns: FakeSns) -> None:
    message = sns.sign(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "c-1",
            "Token": "tok",
            "TopicArn": TOPIC,
            "Message": "You have chosen to subscribe to the topic",
            "SubscribeURL": f"http://{sns.host}/confirm?Token=tok",
            "Timestamp": "2024-05-01T12:00:00.000Z",
        }
    )
    answer = post(serving, message)
    assert answer.status_code == 200, answer.text
    assert answer.json()["confirmed"] is True
    assert sns.confirmed == ["/confirm?Token=tok"]


def test_forged_messages_are_refused(serving: Serving, sns: FakeSns) -> None:
    good = sns.sign(alarm("m-forged", "forged-alarm"))
    before = len(serving.runs("alarm"))
    tampered = {**good, "Subject": "ALARM: something else"}
    elsewhere = {**good, "SigningCertURL": "https://evil.example.com/cert.pem"}
    plain_http_aws = {**good, "SigningCertURL": "http://sns.eu-west-1.amazonaws.com/c.pem"}
    lookalike = {**good, "SigningCertURL": "https://sns.eu-west-1.amazonaws.com.evil.io/c.pem"}
    unsigned = {k: v for k, v in good.items() if k != "Signature"}
    old_version = {**good, "SignatureVersion": "0"}
    for message in (tampered, elsewhere, plain_http_aws, lookalike, unsigned, old_version):
        answer = post(serving, message)
        assert answer.status_code == 401, answer.text
    assert len(serving.runs("alarm")) == before
    # a confirmation whose SubscribeURL is not SNS's is not fetched
    confirm = sns.sign(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "c-2",
            "Token": "tok",
            "TopicArn": TOPIC,
            "Message": "subscribe",
            "SubscribeURL": "http://169.254.169.254/latest/meta-data/",
            "Timestamp": "2024-05-01T12:00:00.000Z",
        }
    )
    answer = post(serving, confirm)
    assert answer.status_code == 400, answer.text
    assert sns.confirmed == []
