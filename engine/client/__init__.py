"""The client of ``runbook serve``'s API: with ``RUNBOOK_SERVER`` (and ``RUNBOOK_TOKEN``) set,
the CLI's commands that touch runs ask the server (``cli.remote``), and need no store, no
database credentials and no runbook files here.

``transport`` speaks HTTP: the token, timeouts, server-sent events, and problem details turned
back into the engine's errors, so exit codes stay what they are on a local store.
"""
