"""The commands' remote halves: with ``RUNBOOK_SERVER`` set, each command asks the server's API
(through ``runbook_engine.client.transport``) and prints what it prints on a local store, with
the same exit codes."""
