"""The slack-bolt ``App``: acknowledge every request at once, then do the work in a thread.

Slack gives an app 3 seconds to answer. Listeners here only read the payload, ``ack()`` and hand
the work to a thread pool (``process_before_response=True`` makes the ack the HTTP response of
the listener itself, so no bolt worker thread is needed to produce it and a burst of commands
cannot delay acks behind slow work). The one exception is a submitted run form: its field
errors must be in the ack to be shown inside the modal, and checking them is local and quick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient

from runbook_engine.slack.input_form import INPUT_VIEW, InputForm
from runbook_engine.slack.interactions import Asker, Interactions
from runbook_engine.slack.messages import INPUT_BUTTON, RERUN
from runbook_engine.slack.modals import (
    REJECT_VIEW,
    RUN_VIEW,
    RunRequest,
    submitted_params,
    submitted_reason,
)
from runbook_engine.slack.prompts import APPROVE, REJECT
from runbook_engine.slack.settings import SlackSettings

log = logging.getLogger("runbook.slack.app")

COMMAND = "/runbook"

Body = dict[str, Any]


def _later(jobs: Executor, work: Callable[..., None], *args: Any) -> None:
    def run() -> None:
        try:
            work(*args)
        except Exception:
            log.exception("handling a Slack request failed")

    jobs.submit(run)


def _action_asker(body: Body) -> Asker:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id", ""
    )
    return Asker(
        user=str(body["user"]["id"]),
        channel=str(channel),
        response_url=body.get("response_url"),
        trigger_id=body.get("trigger_id"),
    )


class _NoTokenNotice(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN is unused when a client is given; here the client is
    built from that very token, so the warning would only confuse whoever reads the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("runbook.slack.bolt")
    if not any(isinstance(f, _NoTokenNotice) for f in logger.filters):
        logger.addFilter(_NoTokenNotice())
    return logger


def build_app(
    settings: SlackSettings, client: WebClient, interactions: Interactions, jobs: Executor
) -> App:
    app = App(
        signing_secret=settings.signing_secret,
        client=client,  # carries the bot token and RUNBOOK_SLACK_API_URL
        process_before_response=True,
        logger=_bolt_logger(),
    )

    @app.command(COMMAND)
    def on_command(ack: Ack, body: Body) -> None:
        ack()
        asker = Asker(
            user=str(body["user_id"]),
            channel=str(body.get("channel_id", "")),
            response_url=body.get("response_url"),
            trigger_id=body.get("trigger_id"),
        )
        _later(jobs, interactions.command, asker, str(body.get("text", "")))

    def clicked(handle: Callable[[Asker, str], None]) -> Callable[[Ack, Body], None]:
        """A button's listener: acknowledged at once, handled on the jobs pool."""

        def on_click(ack: Ack, body: Body) -> None:
            ack()
            _later(jobs, handle, _action_asker(body), str(body["actions"][0]["value"]))

        return on_click

    for action_id, handle in (
        (APPROVE, interactions.approve_clicked),
        (REJECT, interactions.reject_clicked),
        (RERUN, interactions.rerun_clicked),
        (INPUT_BUTTON, interactions.input_clicked),
    ):
        app.action(action_id)(clicked(handle))

    @app.view(RUN_VIEW)
    def on_run_form(ack: Ack, body: Body) -> None:
        view = body["view"]
        request = RunRequest.loads(view.get("private_metadata") or "{}")
        errors = interactions.form_errors(request, submitted_params(view))
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        asker = Asker(user=str(body["user"]["id"]), channel=request.channel)
        _later(jobs, interactions.run_submitted, asker, request, view)

    @app.view(INPUT_VIEW)
    def on_input_form(ack: Ack, body: Body) -> None:
        view = body["view"]
        form = InputForm.loads(view.get("private_metadata") or "{}")
        # given now, not later: a refused value must come back as the form's errors
        errors = interactions.input_submitted(str(body["user"]["id"]), form, view)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()

    @app.view(REJECT_VIEW)
    def on_reject_form(ack: Ack, body: Body) -> None:
        run_id, step, channel, reason = submitted_reason(body["view"])
        if not reason:
            ack(response_action="errors", errors={"reason": "a rejection needs a reason"})
            return
        ack()
        asker = Asker(user=str(body["user"]["id"]), channel=channel)
        _later(jobs, interactions.reject_submitted, asker, run_id, step, reason)

    return app
