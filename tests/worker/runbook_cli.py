"""``runbook`` for the worker tests' subprocesses: the real command group, with ``worker`` and
``submit`` added when the CLI does not list them (so the tests run before and after the wiring
in ``engine/cli/__init__.py``)."""

from __future__ import annotations

from engine.cli import main
from engine.cli.worker_cmds import submit, worker

for command in (worker, submit):
    if command.name not in main.commands:
        main.add_command(command)

if __name__ == "__main__":
    main()
