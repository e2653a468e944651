"""Distributed workers: many processes drive runs from one PostgreSQL store via Procrastinate.

* ``queue`` — the Procrastinate app, deferring ``execute_run(run_id)``, ``RUNBOOK_EXECUTOR``;
* ``pg`` — the queue's connection string (from ``RUNBOOK_DB``) and its schema;
* ``tasks`` — ``execute_run`` and the periodic housekeeping task a worker registers;
* ``housekeeping`` — schedules, the reaper of runs nobody drives, stalled jobs;
* ``main`` — the ``runbook worker`` process; ``follow`` — ``runbook submit --wait``;
* ``logs`` — JSON log lines.

Nothing is imported here, so the CLI can import ``runbook_engine.worker.queue`` without loading the
worker machinery.
"""
