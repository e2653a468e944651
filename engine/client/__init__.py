"""The CLI as a client of ``runbook serve``'s API: with ``RUNBOOK_SERVER`` (and
``RUNBOOK_TOKEN``) set, every command that touches runs asks the server, and needs no store,
no database credentials and no runbook files here.

``transport`` speaks HTTP (problems become the engine's errors, so exit codes stay what they
are on a local store); the other modules are the commands' remote halves.
"""
