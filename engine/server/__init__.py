"""``runbook serve``: the Slack app and the executor in one long-running process.

``executor`` drives runs in background threads; ``draining`` lets a stopping server bring each
run to a recorded point; ``sweeper`` picks up runs whose engine died and applies approval
timeouts; ``http`` serves Slack's requests and ``/healthz``; ``serve`` puts it together.
"""
