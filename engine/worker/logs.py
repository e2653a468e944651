"""Worker logging: plain lines, or JSON lines (``--log-format json``) that log shippers index.

With JSON, every line on stderr is one JSON object: run events come from ``JsonLog`` (the bus
subscriber ``runbook run --log-format json`` uses), and log records — the worker's own and
Procrastinate's — from ``JsonFormatter`` here, carrying ``run_id`` and ``step_id`` when known.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

#: attributes a record may carry through ``extra=`` that are worth a field of their own
_FIELDS = ("run_id", "step_id", "runbook", "action")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": record.created,
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        # Procrastinate passes the job as a dict: its id, task and the run it is about
        job = getattr(record, "job", None)
        if isinstance(job, dict):
            out["job_id"] = job.get("id")
            out["task"] = job.get("task_name")
            kwargs = job.get("task_kwargs")
            if isinstance(kwargs, dict) and "run_id" in kwargs:
                out.setdefault("run_id", kwargs["run_id"])
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(log_format: str) -> None:
    """Log to stderr in ``text`` or ``json``. ``RUNBOOK_LOG_LEVEL`` sets every logger's level;
    without it the worker's own loggers say what they do (INFO) and libraries only warn."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # Python warnings too, so that with JSON every stderr line is still one JSON object
    logging.captureWarnings(True)
    level = os.environ.get("RUNBOOK_LOG_LEVEL")
    root.setLevel(level or logging.WARNING)
    if not level:
        logging.getLogger("runbook").setLevel(logging.INFO)
