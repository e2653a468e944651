"""Two serve processes on one store, the same alert posted to both at once (Alertmanager
clusters notify from every member): one run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from tests.hooks.serving import WEBHOOK_SECRET, Serving
from tests.hooks.test_hooks_webhook import signed

HERE = Path(__file__).resolve().parent


def test_the_same_alert_at_two_servers_starts_one_run(serving: Serving) -> None:
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1])}
    other = subprocess.Popen(
        [sys.executable, str(HERE / "second_serve.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert other.stdout is not None
        other_url = other.stdout.readline().strip()
        assert other_url.startswith("http://"), other_url
        for n in range(5):
            body = json.dumps(
                {
                    "fingerprint": f"twice-{n}",
                    "starts_at": "2024-05-01T12:00:00Z",
                    "labels": {"service": f"both-{n}"},
                }
            ).encode()
            headers = serving.bearer(signed(WEBHOOK_SECRET, body))
            answers: list[httpx.Response] = []

            def send(
                url: str,
                body: bytes = body,
                headers: dict[str, str] = headers,
                answers: list[httpx.Response] = answers,
            ) -> None:
                answers.append(
                    httpx.post(
                        url + "/hooks/webhook/deploy", content=body, headers=headers, timeout=30
                    )
                )

            threads = [threading.Thread(target=send, args=(u,)) for u in (serving.url, other_url)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            outcomes = sorted(a.json()["results"][0]["result"] for a in answers)
            assert outcomes == ["duplicate", "started"], [a.text for a in answers]
            mine = [r for r in serving.runs("deploy-check") if r.params["service"] == f"both-{n}"]
            assert len(mine) == 1
    finally:
        assert other.stdin is not None
        other.stdin.close()
        other.wait(timeout=20)
        if other.stdout is not None:
            other.stdout.close()
