"""What the app does about a slash command, a button click or a submitted modal.

Everything here runs after Slack has been acknowledged, in a worker thread, with a user id that
came from a request whose signature was checked. Every engine call is made as the person that id
stands for (``SlackIdentities``: the mapping file, else the email of their Slack profile, else
the id itself), with their Slack user groups among the principal's groups, so a person is one
approver whether they click in Slack, use the API or the CLI: the run's requester, a decision's
user and the audit entry name them, and the audit adds ``via slack:<user id>``. Permissions are
the engine's own (``runbook_engine.permissions``, through ``Engine.check``, ``Engine.cancel``
and ``Engine.decide``), so a request from Slack is held to the same rules as one from the CLI
and lands in the same event log. Answers to the asker still go to their Slack user id.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from runbook_engine.auth.principal import Principal
from runbook_engine.auth.slack_identity import SlackIdentities
from runbook_engine.catalog import SUFFIXES, Catalog
from runbook_engine.core.approvals import waiting_step
from runbook_engine.core.state import RunState
from runbook_engine.durations import format_duration
from runbook_engine.errors import (
    ApprovalError,
    CatalogError,
    FieldError,
    NotWaitingForInput,
    ParameterError,
    RunbookError,
    StoreError,
)
from runbook_engine.server.executor import RunExecutor
from runbook_engine.service import Engine, LoadedRun, RunOutcome, rerun_run_id
from runbook_engine.slack.client import webhook
from runbook_engine.slack.commands import HELP, Command, CommandError, parse
from runbook_engine.slack.escaping import escape
from runbook_engine.slack.groups import UserGroups
from runbook_engine.slack.input_form import FIELD_PREFIX, InputForm, input_modal, submitted_values
from runbook_engine.slack.messages import Block, RunView, clip, mention, run_message
from runbook_engine.slack.modals import RunRequest, reject_modal, run_modal, submitted_params
from runbook_engine.slack.notifier import SlackNotifier
from runbook_engine.slack.prompts import parse_button_value
from runbook_engine.spec.loader import LoadedRunbook
from runbook_engine.spec.models import ApprovalStep, InputStep
from runbook_engine.spec.params import parse_assignments, resolve_params

log = logging.getLogger("runbook.slack.interactions")

#: a form's errors, by input block id (``response_action: errors``)
Errors = dict[str, str]


def slack_run_id(trigger_id: str) -> str:
    """The run id for a request: the same request (a retry, a double submit) gets the same id,
    and the store refuses to create a run twice."""
    return hashlib.sha256(f"slack:{trigger_id}".encode()).hexdigest()[:12]


def channel_ref(channel: str) -> str:
    return f"<#{channel}>" if channel[:1] in "CG" and channel.isupper() else channel


@dataclass(frozen=True)
class Asker:
    """Who asked, where, and how to answer them privately."""

    user: str  # the Slack user id: answers and mentions need it; the engine gets the person
    channel: str
    response_url: str | None = None
    trigger_id: str | None = None


class Replier:
    """Ephemeral answers: through the request's ``response_url`` when there is one (works in
    any channel), else ``chat.postEphemeral``."""

    def __init__(self, client: WebClient, asker: Asker, *, prefer_ephemeral: bool = False) -> None:
        self.client = client
        self.asker = asker
        self.prefer_ephemeral = prefer_ephemeral

    def __call__(self, text: str, blocks: list[Block] | None = None) -> None:
        try:
            if self.asker.response_url and not self.prefer_ephemeral:
                webhook(self.asker.response_url).send(
                    text=text, blocks=blocks, response_type="ephemeral"
                )
            else:
                self.client.chat_postEphemeral(
                    channel=self.asker.channel, user=self.asker.user, text=text, blocks=blocks
                )
        except (SlackApiError, OSError) as exc:
            log.warning("could not answer %s: %s", self.asker.user, exc)


class Interactions:
    def __init__(
        self,
        engine: Engine,
        executor: RunExecutor,
        client: WebClient,
        groups: UserGroups,
        notifier: SlackNotifier,
        catalog: Callable[[], Catalog] = Catalog,
        identities: SlackIdentities | None = None,
    ) -> None:
        self.engine = engine
        self.executor = executor
        self.client = client
        self.groups = groups
        self.notifier = notifier
        # who a Slack user id is: RUNBOOK_SLACK_USERS, else their profile email (users.info)
        self.identities = identities or SlackIdentities.from_env(client.users_info)
        # a fresh catalog per request: runbooks edited on disk show up without a restart
        self.catalog = catalog

    # ------------------------------------------------------------------ slash command

    def command(self, asker: Asker, text: str) -> None:
        reply = Replier(self.client, asker)
        try:
            cmd = parse(text)
            handler = getattr(self, f"_cmd_{cmd.verb}")
            handler(cmd, asker, reply)
        except CommandError as exc:
            reply(f":warning: {escape(exc)}")
        except ApprovalError as exc:
            reply(f":no_entry: {escape(exc)}")
        except RunbookError as exc:
            reply(f":warning: {escape(exc)}")

    def _cmd_help(self, cmd: Command, asker: Asker, reply: Replier) -> None:
        reply(HELP)

    def _cmd_list(self, cmd: Command, asker: Asker, reply: Replier) -> None:
        lines = []
        for loaded in self.catalog().latest():
            rb = loaded.runbook
            allowed = self._may_run(loaded, self._run_principal(loaded, asker.user))
            required = [n for n, p in rb.parameters.items() if p.is_required]
            line = f"{'' if allowed else ':lock: '}*{rb.name}*@{rb.version}"
            if rb.description:
                line += f" — {rb.description}"
            if required:
                line += f" (needs {', '.join(required)})"
            lines.append(clip(line, 300))
        reply("\n".join(lines) if lines else "No runbooks found.")

    def _cmd_run(self, cmd: Command, asker: Asker, reply: Replier) -> None:
        loaded = self._resolve(cmd.args[0])
        who = self._run_principal(loaded, asker.user)
        self.engine.check_start_permission(loaded, who)  # before a form opens; audited
        given = parse_assignments(list(cmd.args[1:]))
        trigger = asker.trigger_id or f"{asker.user}:{time.time_ns()}"
        # the form runs exactly the version it was filled in for
        ref = f"{loaded.runbook.name}@{loaded.runbook.version}"
        request = RunRequest(slack_run_id(trigger), ref, asker.channel, asker.response_url)
        missing = [
            n for n, p in loaded.runbook.parameters.items() if p.is_required and n not in given
        ]
        if missing and asker.trigger_id:
            self.client.views_open(
                trigger_id=asker.trigger_id, view=run_modal(loaded, given, request)
            )
            return
        resolve_params(loaded.runbook, given)  # refuse bad input now, in the user's words
        self._start(loaded, given, request, who, reply)

    def _cmd_status(self, cmd: Command, asker: Asker, reply: Replier) -> None:
        if cmd.args:
            record, loaded, state = self.engine.state_of(cmd.args[0])
            trigger = self.engine.trigger_of(record) or {}
            alert = trigger.get("alert") if isinstance(trigger.get("alert"), dict) else None
            link = self.engine.rerun_of(record)
            view = RunView.of(
                record.id, loaded, record.requester, record.params, state, alert, link
            )
            text, blocks = run_message(view, time.time())
            reply(text, blocks)
            return
        runs = self.engine.store.list_runs(limit=10)
        if not runs:
            reply("No runs yet.")
            return
        now = time.time()
        lines = [
            f"`{r.id}` *{r.runbook}*@{r.version} {r.status.replace('_', ' ')} · "
            f"{mention(r.requester)} · {format_duration(now - r.created_at.timestamp())} ago"
            for r in runs
        ]
        reply("\n".join(lines))

    def _cmd_approve(self, cmd: Command, asker: Asker, reply: Replier) -> None:
        step = self.decide(asker.user, cmd.args[0], approve=True, reason=" ".join(cmd.args[1:]))
        reply(f":white_check_mark: You approved step `{step}` of run `{escape(cmd.args[0])}`.")

    def _cmd_reject(self, cmd: Command, asker: Asker, reply: Replier) -> None:
        step = self.decide(asker.user, cmd.args[0], approve=False, reason=" ".join(cmd.args[1:]))
        reply(f":no_entry: You rejected step `{step}` of run `{escape(cmd.args[0])}`.")

    def _cmd_cancel(self, cmd: Command, asker: Asker, reply: Replier) -> None:
        record = self.engine.run_record(cmd.args[0])
        who = self._run_principal(self.engine.loaded_for(record), asker.user)
        self.engine.cancel(record.id, by=who, reason=" ".join(cmd.args[1:]))
        self.notifier.refresh(record.id)
        self.executor.resume(record.id, by=who.name)
        reply(f":no_entry_sign: Cancel requested for run `{record.id}`; completed steps roll back.")

    # ------------------------------------------------------------------ buttons and modals

    def approve_clicked(self, asker: Asker, value: str) -> None:
        reply = Replier(self.client, asker, prefer_ephemeral=True)
        run_id, step = parse_button_value(value)
        try:
            self.decide(asker.user, run_id, approve=True, step=step)
        except RunbookError as exc:
            reply(f":no_entry: {escape(exc)}")

    def reject_clicked(self, asker: Asker, value: str) -> None:
        """Refuse a non-approver at once; ask an approver for the reason in a modal."""
        reply = Replier(self.client, asker, prefer_ephemeral=True)
        run_id, step = parse_button_value(value)
        try:
            run = self.engine.load_run(run_id)
            current = self._current_step(run.loaded, run.state, step)
            who = self._approver_principal(run.loaded, current, asker.user)
            self.engine.check_decision(run, user=who, approve=False)  # a refusal is audited
        except RunbookError as exc:
            reply(f":no_entry: {escape(exc)}")
            return
        if asker.trigger_id:
            self.client.views_open(
                trigger_id=asker.trigger_id, view=reject_modal(run.record.id, step, asker.channel)
            )

    def reject_submitted(self, asker: Asker, run_id: str, step: str, reason: str) -> None:
        reply = Replier(self.client, asker, prefer_ephemeral=True)
        try:
            self.decide(asker.user, run_id, approve=False, reason=reason, step=step)
        except RunbookError as exc:
            reply(f":no_entry: {escape(exc)}")

    def rerun_clicked(self, asker: Asker, value: str) -> None:
        """ "Re-run from here" on a failed run's message: a re-run from the step it failed at
        (``Engine.create_rerun``, checked and audited as from any door), its message posted
        where the button was. Secret parameters are never asked for in Slack: the answer says
        how to re-run with the CLI."""
        reply = Replier(self.client, asker, prefer_ephemeral=True)
        run_id, step = parse_button_value(value)
        trigger = asker.trigger_id or f"{asker.user}:{time.time_ns()}"
        new_id = rerun_run_id(f"slack:{trigger}")  # a retried click finds the same re-run
        try:
            original = self.engine.run_record(run_id)
            loaded = self.engine.loaded_for(original)
            who = self._run_principal(loaded, asker.user)
            self.notifier.route(new_id, asker.channel)
            self.executor.rerun(original.id, by=who, run_id=new_id, from_step=step)
        except ParameterError as exc:
            param = loaded.runbook.parameters.get(exc.name)
            if param is None or not param.secret:
                reply(f":warning: {escape(exc)}")
                return
            secret = [n for n, p in loaded.runbook.parameters.items() if p.secret]
            given = " ".join(f"-p {n}=-" for n in secret)
            reply(
                f":lock: *{escape(loaded.runbook.name)}* has secret parameters "
                f"({escape(', '.join(secret))}), which were never stored and which Slack never "
                f"asks for. Re-run it from a terminal: "
                f"`runbook rerun {original.id} --from {escape(step)} {given}`"
            )
            return
        except StoreError as exc:
            if "already exists" not in str(exc):
                reply(f":warning: {escape(exc)}")
                return
            log.info("re-run %s was already made by this click", new_id)
            return
        except ApprovalError as exc:
            reply(f":no_entry: {escape(exc)}")
            return
        except RunbookError as exc:
            reply(f":warning: {escape(exc)}")
            return
        rb = loaded.runbook
        where = channel_ref(rb.notify.channel if rb.notify else asker.channel)
        reply(
            f":repeat: Re-running run `{original.id}` from `{escape(step)}` as run `{new_id}` "
            f"— progress in {where}."
        )

    def input_clicked(self, asker: Asker, value: str) -> None:
        """Open the form of the input step the run waits for, for someone who may give it;
        refuse anyone else at once (audited)."""
        reply = Replier(self.client, asker, prefer_ephemeral=True)
        run_id, step_id = parse_button_value(value)
        try:
            run = self.engine.load_run(run_id)
            step = self._input_step(run, step_id)
            self.engine.check_input(run, user=self._input_principal(run.loaded, step, asker.user))
            asked = self.engine.input_request(run) or {}
        except RunbookError as exc:
            reply(f":no_entry: {escape(exc)}")
            return
        if asker.trigger_id:
            form = InputForm(run.record.id, step.id, asker.channel)
            message = str(asked.get("message") or "")
            self.client.views_open(
                trigger_id=asker.trigger_id, view=input_modal(form, step, message)
            )

    def input_submitted(self, user: str, form: InputForm, view: Mapping[str, Any]) -> Errors:
        """Give the values of a submitted input form, checked by the engine as any door's
        are; a refusal comes back as the form's errors (by input block), nothing recorded and
        the step still waiting. Called while Slack waits for the answer: quick."""
        values = submitted_values(view)
        first = next(iter((view.get("state") or {}).get("values") or {}), "")
        try:
            run = self.engine.load_run(form.run_id)
            step = self._input_step(run, form.step)
            who = self._input_principal(run.loaded, step, user)
            given = self.engine.give_input(run, user=who, values=values)
        except FieldError as exc:
            return (
                {FIELD_PREFIX + exc.name: exc.reason} if exc.name in values else {first: str(exc)}
            )
        except RunbookError as exc:
            return {first: str(exc)}
        self.notifier.refresh(run.record.id)
        self.executor.resume(run.record.id, by=who.name, run=given.run)
        return {}

    def _input_step(self, run: LoadedRun, step: str) -> InputStep:
        current = self.engine.input_step(run)
        if current.id != step:
            raise NotWaitingForInput(
                f"this form is no longer current: the run waits on step {current.id!r} now"
            )
        return current

    def _input_principal(self, loaded: LoadedRunbook, step: InputStep, user: str) -> Principal:
        return self._principal(user, step.input.from_ or loaded.runbook.permissions.run)

    def form_errors(self, request: RunRequest, given: Mapping[str, str]) -> dict[str, str]:
        """Problems with a submitted run form, by input block, shown inside the modal."""
        try:
            loaded = self._resolve(request.ref)
            resolve_params(loaded.runbook, given)
        except ParameterError as exc:
            return {f"param:{exc.name}": str(exc)}
        except RunbookError:
            return {}  # not about a field: reported after the modal closes
        return {}

    def run_submitted(self, asker: Asker, request: RunRequest, view: Mapping[str, Any]) -> None:
        asker = Asker(asker.user, request.channel, request.response_url)
        reply = Replier(self.client, asker)
        try:
            loaded = self._resolve(request.ref)
            who = self._run_principal(loaded, asker.user)
            self.engine.check_start_permission(loaded, who)
            given = submitted_params(view)
            resolve_params(loaded.runbook, given)
            self._start(loaded, given, request, who, reply)
        except RunbookError as exc:
            reply(f":warning: {escape(exc)}")

    # ------------------------------------------------------------------ shared

    def decide(
        self, user: str, run_ref: str, *, approve: bool, reason: str = "", step: str | None = None
    ) -> str:
        """Record the decision of the Slack user ``user`` on the step the run waits on
        (``step``: only if it is still that one) and drive the run on; returns the step
        decided."""
        run = self.engine.load_run(run_ref)
        current = self._current_step(run.loaded, run.state, step)
        who = self._approver_principal(run.loaded, current, user)
        decided = self.engine.decide(run, user=who, approve=approve, reason=reason)
        self.notifier.refresh(run.record.id)
        self.executor.resume(run.record.id, by=who.name, run=decided.run)
        return decided.step

    def _current_step(
        self, loaded: LoadedRunbook, state: RunState, step: str | None
    ) -> ApprovalStep:
        current = waiting_step(loaded.runbook, state)
        if step is not None and current.id != step:
            raise ApprovalError(
                f"this prompt is no longer current: the run waits on step {current.id!r} now"
            )
        return current

    def _principal(self, user: str, entries: Iterable[str]) -> Principal:
        """The person the Slack user id ``user`` stands for, in the Slack user groups among
        ``entries`` they belong to (memberships are by Slack user id, so asked with the id)."""
        return self.identities.principal(user, self.groups.groups_of(user, entries))

    def _approver_principal(
        self, loaded: LoadedRunbook, step: ApprovalStep, user: str
    ) -> Principal:
        entries = step.approval.approvers or loaded.runbook.permissions.approve
        return self._principal(user, entries)

    def _run_principal(self, loaded: LoadedRunbook, user: str) -> Principal:
        """``user`` as a principal in the groups of ``permissions.run`` they are in."""
        return self._principal(user, loaded.runbook.permissions.run)

    def _resolve(self, ref: str) -> LoadedRunbook:
        """A runbook of the catalog by NAME or NAME@VERSION. Never a file path: from Slack,
        only the runbooks the server was given may run."""
        if os.sep in ref or ref.endswith(SUFFIXES) or (os.altsep and os.altsep in ref):
            raise CatalogError(f"{ref!r}: give a runbook name (see `/runbook list`), not a path")
        return self.catalog().resolve(ref, self.engine.store)

    def _may_run(self, loaded: LoadedRunbook, who: Principal) -> bool:
        """For ``/runbook list``: a look, not a request, so nothing is audited."""
        try:
            self.engine.check_run_permission(loaded, who)
        except ApprovalError:
            return False
        return True

    def _start(
        self,
        loaded: LoadedRunbook,
        given: Mapping[str, str],
        request: RunRequest,
        who: Principal,
        reply: Replier,
    ) -> None:
        rb = loaded.runbook
        self.notifier.route(request.run_id, request.channel)

        def report(outcome: RunOutcome | None, error: Exception | None) -> None:
            if error is not None:
                reply(f":x: run `{request.run_id}` of {rb.name} stopped: {escape(error)}")
            elif outcome is not None and outcome.message:
                reply(f":no_entry_sign: run `{outcome.run_id}`: {escape(outcome.message)}")

        try:
            self.executor.start(
                loaded,
                given,
                requester=who,
                run_id=request.run_id,
                done=report,
            )
        except StoreError as exc:
            if "already exists" not in str(exc):
                raise
            # the same request again (a retry, a second click on the form): it is running
            log.info("run %s was already started by this request", request.run_id)
            return
        where = channel_ref(rb.notify.channel if rb.notify else request.channel)
        reply(
            f":rocket: Starting *{rb.name}*@{rb.version} as run `{request.run_id}` — "
            f"progress in {where}."
        )
