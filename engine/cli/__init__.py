"""The ``runbook`` command. Thin: every command calls into the engine's modules.

Imports of heavy modules happen inside commands so that ``runbook --help`` starts fast.
"""

from __future__ import annotations

import logging
import os

import click

from runbook_engine.cli.actions_cmd import actions
from runbook_engine.cli.audit_cmd import audit
from runbook_engine.cli.catalog_cmds import diff, list_, plan, schema, validate
from runbook_engine.cli.hosts_cmd import hosts
from runbook_engine.cli.input_cmd import input_
from runbook_engine.cli.ops_cmds import logs, runs, show
from runbook_engine.cli.rerun_cmd import rerun
from runbook_engine.cli.run_cmds import approve, cancel, reject, resume, run
from runbook_engine.cli.schedule_cmds import report, schedules
from runbook_engine.cli.serve_cmd import serve
from runbook_engine.cli.token_cmds import token
from runbook_engine.cli.triggers_cmd import triggers
from runbook_engine.cli.whoami_cmd import whoami
from runbook_engine.cli.worker_cmds import submit, worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="runbook-engine", prog_name="runbook")
def main() -> None:
    """Runbook Engine: versioned runbooks for incident response, with rollbacks and approvals.

    Runbooks come from ./runbooks and RUNBOOK_PATH; runs are recorded in RUNBOOK_DB
    (default: an SQLite file in your data directory). With RUNBOOK_SERVER (and
    RUNBOOK_TOKEN) set, the commands about runs, runbooks, schedules, tokens and the audit
    trail ask that server's API instead.
    """
    logging.basicConfig(
        level=os.environ.get("RUNBOOK_LOG_LEVEL", "WARNING"),
        format="%(levelname)s %(name)s: %(message)s",
    )


for command in (
    validate,
    list_,
    show,
    diff,
    schema,
    plan,
    run,
    resume,
    approve,
    reject,
    cancel,
    runs,
    logs,
    schedules,
    triggers,
    report,
    serve,
    hosts,
    actions,
    worker,
    submit,
    token,
    audit,
    whoami,
    rerun,
    input_,
):
    main.add_command(command)

__all__ = ["main"]
