"""A second ``runbook serve`` process on the same store: started by a test, it prints its URL
and serves until its stdin closes. Its environment (RUNBOOK_DB, RUNBOOK_PATH, the webhook
secrets) is the test's."""

from __future__ import annotations

import sys

from runbook_engine.server.serve import ServeOptions, Server


def main() -> None:
    server = Server(None, ServeOptions(host="127.0.0.1", port=0, grace=2.0, sweep_interval=0.2))
    server.start()
    print(server.url, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
