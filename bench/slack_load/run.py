"""slack_load: 200 ``/runbook run`` commands in a minute against ``runbook serve``.

Starts the fake Slack Web API in this process and ``runbook serve`` as a subprocess on
127.0.0.1 (a fresh SQLite store in a temporary directory), then sends signed slash commands at
an even pace from many threads, as Slack would. Reports ack latency (p50/p99/max; Slack's limit
is 3 s), checks every run was recorded exactly once and finished, and counts the Slack calls.
Not part of CI: ``.venv/bin/python bench/slack_load/run.py [--commands 200] [--seconds 60]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from runbook_engine.store import Store
from runbook_engine.testing.fake_slack import FakeSlack

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import percentile

SECRET = "bench-signing-secret"
RUNBOOK = """\
apiVersion: runbook/v1
name: load
version: 1
description: a short run with a few steps
parameters:
  n: {type: integer}
notify: {channel: "#load"}
steps:
  - {id: one, action: log, with: {message: "run {{ params.n }} one"}}
  - {id: two, action: shell.command, with: {command: "echo {{ params.n }}"}}
  - {id: three, action: log, with: {message: "run {{ params.n }} three"}}
"""


def start_serve(workdir: Path, fake: FakeSlack) -> tuple[subprocess.Popen[str], str]:
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": fake.token,
        "SLACK_SIGNING_SECRET": SECRET,
        "RUNBOOK_SLACK_API_URL": fake.api_url,
        "RUNBOOK_DB": str(workdir / "runbook.db"),
        "RUNBOOK_PATH": "",
    }
    env.pop("SLACK_APP_TOKEN", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from runbook_engine.cli.serve_cmd import serve; serve()",
            "--port",
            "0",
        ],
        cwd=workdir,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    found = re.search(r"(http://[\d.]+:\d+)/slack/events", proc.stderr.readline())
    if not found:
        proc.kill()
        raise SystemExit("runbook serve did not start")
    return proc, found.group(1)


def send(url: str, fake: FakeSlack, i: int, acks: list[float], errors: list[str]) -> None:
    body = urlencode(
        {
            "team_id": fake.team_id,
            "channel_id": "C0LOAD",
            "user_id": f"U{i:06d}",
            "command": "/runbook",
            "text": f"run load n={i}",
            "response_url": fake.url + f"commands/{i}",
            "trigger_id": f"bench.{i}.{time.time_ns()}",
        }
    ).encode()
    ts = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body.decode())
    request = urllib.request.Request(
        url + "/slack/events",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": str(signature),
        },
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()
            if answer.status != 200:
                errors.append(f"{i}: HTTP {answer.status}")
    except (urllib.error.URLError, OSError) as exc:
        errors.append(f"{i}: {exc}")
    acks.append(time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as fake:
        workdir = Path(tmp)
        (workdir / "runbooks").mkdir()
        (workdir / "runbooks" / "load.yaml").write_text(RUNBOOK)
        proc, url = start_serve(workdir, fake)
        acks: list[float] = []
        errors: list[str] = []
        threads = []
        began = time.monotonic()
        try:
            for i in range(args.commands):
                due = began + i * args.seconds / args.commands
                time.sleep(max(0.0, due - time.monotonic()))
                thread = threading.Thread(target=send, args=(url, fake, i, acks, errors))
                thread.start()
                threads.append(thread)
            for thread in threads:
                thread.join()
            sent_for = time.monotonic() - began
            with Store.open(str(workdir / "runbook.db")) as store:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    runs = store.list_runs(limit=10 * args.commands)
                    done = [r for r in runs if r.status == "succeeded"]
                    if len(runs) >= args.commands and len(done) == len(runs):
                        break
                    time.sleep(0.5)
                finished_after = time.monotonic() - began
                runs = store.list_runs(limit=10 * args.commands)
                numbers = sorted(int(r.params["n"]) for r in runs)
                statuses = {
                    s: sum(1 for r in runs if r.status == s) for s in {r.status for r in runs}
                }
            # let the last Slack updates land
            time.sleep(3)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        posts = [c for c in fake.calls("chat.postMessage") if not c.params.get("thread_ts")]
        report = {
            "commands": args.commands,
            "sent_over_s": round(sent_for, 1),
            "ack_p50_ms": round(statistics.median(acks) * 1000, 1),
            "ack_p99_ms": round(percentile(acks, 0.99) * 1000, 1),
            "ack_max_ms": round(max(acks) * 1000, 1),
            "acks_over_3s": sum(1 for a in acks if a >= 3),
            "http_errors": len(errors),
            "runs_recorded": len(runs),
            "each_command_one_run": numbers == list(range(args.commands)),
            "statuses": statuses,
            "all_finished_after_s": round(finished_after, 1),
            "slack_run_messages": len(posts),
            "slack_updates": len(fake.calls("chat.update")),
            "slack_calls": len(fake.calls()),
        }
        print(json.dumps(report, indent=2))
        ok = (
            report["acks_over_3s"] == 0
            and not errors
            and report["each_command_one_run"]
            and statuses == {"succeeded": args.commands}
        )
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
