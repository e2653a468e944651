"""Helpers for testing runbooks and the Slack app, shipped so teams can reuse them for their own
runbooks: nothing in the engine's production path imports this package.

* ``run_runbook``: run a runbook file or text end to end on a throw-away SQLite store.
* ``FakeSlack``: a stand-in for the Slack Web API over real HTTP; point ``slack_sdk`` (and
  ``runbook serve``, with ``RUNBOOK_SLACK_API_URL``) at it and read what was posted.
* ``SlackPlayer``: slash commands and button clicks sent to ``runbook serve``, signed as Slack
  signs them.
"""

from __future__ import annotations

from runbook_engine.testing.fake_slack import FakeSlack
from runbook_engine.testing.runs import run_runbook
from runbook_engine.testing.slack_player import DEFAULT_USER, SlackPlayer

__all__ = ["DEFAULT_USER", "FakeSlack", "SlackPlayer", "run_runbook"]
