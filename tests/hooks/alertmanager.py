"""The real Alertmanager (Debian's prometheus-alertmanager) on a loopback port, its webhook
receiver pointed at a running serve, with the trigger token in ``http_config.authorization``
and short group and repeat intervals, so a test sees grouping, repeats and resolves in
seconds."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

BINARY = "/usr/bin/prometheus-alertmanager"

CONFIG = """\
route:
  receiver: engine
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: engine
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_alertmanager() -> None:
    if not os.access(BINARY, os.X_OK) and shutil.which("prometheus-alertmanager") is None:
        pytest.skip(
            "prometheus-alertmanager is not installed (apt install prometheus-alertmanager)"
        )


@dataclass
class Alertmanager:
    url: str

    def post(self, alerts: list[dict[str, Any]]) -> None:
        answer = httpx.post(self.url + "/api/v2/alerts", json=alerts, timeout=10)
        assert answer.status_code == 200, answer.text

    def notifications(self) -> float:
        """Webhook notifications Alertmanager has sent (its own metric)."""
        text = httpx.get(self.url + "/metrics", timeout=10).text
        total = 0.0
        for line in text.splitlines():
            if (
                line.startswith("alertmanager_notifications_total")
                and 'integration="webhook"' in line
            ):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def failed(self) -> float:
        text = httpx.get(self.url + "/metrics", timeout=10).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("alertmanager_notifications_failed_total")
            and 'integration="webhook"' in line
        )


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def started(alert: dict[str, Any], ago: float = 30.0) -> dict[str, Any]:
    """The alert as Prometheus sends it: with the time it began firing."""
    return {**alert, "startsAt": rfc3339(datetime.now(UTC) - timedelta(seconds=ago))}


def resolved(alert: dict[str, Any]) -> dict[str, Any]:
    """The alert again, the same start, ended a second ago: Alertmanager resolves it (as
    Prometheus resolves an alert: the start it sent while firing, and an end)."""
    return {**alert, "endsAt": rfc3339(datetime.now(UTC) - timedelta(seconds=1))}


@contextmanager
def alertmanager(root: Path, receiver: str, token: str) -> Iterator[Alertmanager]:
    require_alertmanager()
    port = free_port()
    config = root / "alertmanager.yml"
    config.write_text(CONFIG.format(url=receiver, token=token), encoding="utf-8")
    data = root / "alertmanager-data"
    data.mkdir(exist_ok=True)
    log = (root / "alertmanager.log").open("w")
    process = subprocess.Popen(
        [
            BINARY if os.access(BINARY, os.X_OK) else "prometheus-alertmanager",
            f"--config.file={config}",
            f"--storage.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # one instance: no gossip port
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(url + "/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    "Alertmanager did not start: "
                    + (root / "alertmanager.log").read_text(encoding="utf-8")[-2000:]
                )
            time.sleep(0.1)
        yield Alertmanager(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
