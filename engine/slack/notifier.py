"""Post each run to Slack and keep its message current: the bus subscriber behind the run
message, its thread replies and the approval prompts.

``on_event`` is called synchronously by the runner after every recorded event, so it only files the
event in the run's :class:`~runbook_engine.slack.outbox.Outbox` and returns; sender threads do the
HTTP. A run is handled by one sender at a time (its posts stay in order); different runs go out in
parallel. Where each message lives is recorded on the run itself (``slack.message`` and
``slack.approval`` events), so any process — after a restart, or one that only watches the store —
updates the same messages instead of posting new ones."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from runbook_engine.core.apply import Layout, replay
from runbook_engine.core.decide import find_step
from runbook_engine.core.events import EventType
from runbook_engine.core.state import RunState
from runbook_engine.core.statuses import TERMINAL, WAITING_APPROVAL
from runbook_engine.runtime.bus import Event, RunInfo
from runbook_engine.slack.messages import RunView, run_message, summary_reply
from runbook_engine.slack.outbox import (
    APPROVAL,
    FINISH,
    Anchor,
    NewPrompt,
    Outbox,
    Post,
    Reply,
    Summary,
    posts_for,
)
from runbook_engine.slack.prompts import Prompt, prompt_message
from runbook_engine.spec.loader import LoadedRunbook, load_text
from runbook_engine.spec.models import ApprovalStep
from runbook_engine.spec.params import redact_text
from runbook_engine.store import EventRecord, Store

log = logging.getLogger("runbook.slack.notifier")

MESSAGE_EVENT = EventType.SLACK_MESSAGE
PROMPT_EVENT = EventType.SLACK_APPROVAL
ALL_KINDS = frozenset({"start", "step", "approval", "failure", "finish"})
#: Slack errors worth trying again; anything else (channel_not_found, not_in_channel,
#: invalid_auth, ...) will not fix itself, so the post is logged and given up
TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
MAX_BACKOFF = 60.0
SHOWN_KEPT = 4096

SecretsOf = Callable[[str], tuple[str, ...]]


class _Transient(Exception):
    def __init__(self, wait: float) -> None:
        self.wait = wait


@dataclass(frozen=True)
class _PromptAnchor:
    prompt: Prompt
    anchor: Anchor


@dataclass
class _Context:
    """What a sender needs to know about a run, loaded once from the store."""

    loaded: LoadedRunbook
    params: dict[str, Any]
    requester: str
    channel: str | None
    kinds: frozenset[str]
    anchor: Anchor | None = None
    prompts: dict[int, _PromptAnchor] = field(default_factory=dict)  # by request seq
    alert: dict[str, Any] | None = None  # the alert that started the run, if one did
    rerun_of: dict[str, Any] | None = None  # the run it re-runs, if it is a re-run

    def view(self, run_id: str, state: RunState) -> RunView:
        return RunView.of(
            run_id, self.loaded, self.requester, self.params, state, self.alert, self.rerun_of
        )

    def template_of(self, step_id: str) -> str:
        """An approval step's message as the runbook writes it: its own mentions stay live."""
        try:
            step = find_step(self.loaded.runbook, step_id)
        except KeyError:
            return ""
        return step.approval.message if isinstance(step, ApprovalStep) else ""


def _bus_event(record: EventRecord) -> Event:
    """A stored event as the bus would have delivered it."""
    return Event(
        record.run_id,
        record.seq,
        record.ts.timestamp(),
        record.type,
        record.step_id,
        record.data or {},
    )


def _redact(value: Any, secrets: tuple[str, ...]) -> Any:
    if not secrets:
        return value
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, list):
        return [_redact(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _redact(v, secrets) for k, v in value.items()}
    return value


class SlackNotifier:
    """Bus subscriber posting runs to Slack. ``close()`` flushes what is pending."""

    def __init__(
        self,
        client: WebClient,
        store: Store,
        *,
        secrets: SecretsOf = lambda run_id: (),
        min_interval: float = 1.0,
        workers: int = 4,
    ) -> None:
        self.client = client
        self.store = store
        self.secrets = secrets
        self.min_interval = min_interval
        self._cond = threading.Condition()
        self._boxes: dict[str, Outbox] = {}
        self._contexts: dict[str, _Context] = {}  # touched only by the sender holding the box
        self._routes: dict[str, str] = {}
        # what each message shows now, kept after a run's outbox is gone: a redraw from the
        # store that changes nothing then costs no Slack call
        self._shown: OrderedDict[str, str] = OrderedDict()
        # the newest event of each run whose posts were queued, heard on the bus or read from
        # the store: replies are owed only for events after it, whichever way they came
        self._heard: OrderedDict[str, int] = OrderedDict()
        self._forcing = 0
        self._stopped = False
        self._threads = [
            threading.Thread(target=self._work, name=f"slack-notify-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    # ------------------------------------------------------------------ inputs

    def on_event(self, run: RunInfo, event: Event, state: RunState) -> None:
        if event.type.startswith("slack."):
            return  # our own bookkeeping, nothing to show
        with self._cond:
            box = self._boxes.get(run.id)
            if box is None:
                box = self._boxes[run.id] = Outbox(run.id)
            heard = self._heard.get(run.id, 0)
            # an event already read from the store (a follow raced this drive) is said once
            box.add(run, event, state, say=event.seq > heard)
            self._hear(run.id, event.seq)
            self._cond.notify()

    def _hear(self, run_id: str, seq: int) -> None:
        """Called with the lock held."""
        self._heard[run_id] = max(seq, self._heard.get(run_id, 0))
        self._heard.move_to_end(run_id)
        while len(self._heard) > SHOWN_KEPT:
            self._heard.popitem(last=False)

    def route(self, run_id: str, channel: str) -> None:
        """Post ``run_id`` to ``channel`` if its runbook names no ``notify`` channel (a run
        started from Slack reports where it was asked for)."""
        with self._cond:
            self._routes[run_id] = channel

    def refresh(self, run_id: str) -> None:
        """Redraw a run from the store: it changed somewhere the bus of this process did not
        see (a decision, another engine driving it)."""
        with self._cond:
            box = self._boxes.get(run_id)
            if box is None:
                box = self._boxes[run_id] = Outbox(run_id)
            box.reload = True
            self._cond.notify()

    def follow(self, run_id: str, *, from_start: bool) -> None:
        """Say in Slack what another process recorded for a run: redraw it and post the
        replies and prompts its new events call for. ``from_start``: a run this notifier never
        heard of is new (everything is owed); otherwise it was posted before this process
        started, and only what comes after now is."""
        with self._cond:
            if from_start and run_id not in self._heard:
                self._heard[run_id] = 0
        self.refresh(run_id)

    def flush(self, timeout: float = 10.0) -> bool:
        """Send everything pending now, update intervals aside. False if time ran out."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._forcing += 1
            self._cond.notify_all()
            try:
                while not all(box.idle for box in self._boxes.values()):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.wait(min(left, 0.1))
                return True
            finally:
                self._forcing -= 1

    def close(self, timeout: float = 10.0) -> bool:
        flushed = self.flush(timeout)
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=1.0)
        return flushed

    # ------------------------------------------------------------------ sender threads

    def _next_box(self) -> Outbox | None:
        """Wait for an outbox with work due; None when stopped. Called with the lock held."""
        while not self._stopped:
            now = time.monotonic()
            nearest: float | None = None
            for box in self._boxes.values():
                at = box.due_at(now, force=self._forcing > 0)
                if at is None:
                    continue
                if at <= now:
                    box.busy = True
                    return box
                nearest = at if nearest is None else min(nearest, at)
            self._cond.wait(None if nearest is None else max(nearest - now, 0.01))
        return None

    def _work(self) -> None:
        while True:
            with self._cond:
                box = self._next_box()
            if box is None:
                return
            try:
                self._process(box)
            except _Transient as exc:
                with self._cond:
                    box.failures += 1
                    box.retry_at = time.monotonic() + exc.wait
            except Exception:
                # never let one run's trouble stop the senders; its work stays queued
                log.exception("posting run %s to Slack failed", box.run_id)
                with self._cond:
                    box.failures += 1
                    box.retry_at = time.monotonic() + min(2.0**box.failures, MAX_BACKOFF)
            else:
                with self._cond:
                    box.failures = 0
            finally:
                with self._cond:
                    box.busy = False
                    finished = box.state is not None and box.state.status in TERMINAL
                    if box.idle and (finished or box.gone):
                        self._boxes.pop(box.run_id, None)
                        self._contexts.pop(box.run_id, None)
                    self._cond.notify_all()

    def _process(self, box: Outbox) -> None:
        ctx = self._context(box.run_id)
        if ctx is None or ctx.channel is None:
            self._discard(box, gone=True)  # no channel to post to: nothing is owed
            return
        if box.reload:
            self._reload(box, ctx)
        with self._cond:
            state, version = box.state, box.version
        if state is None:
            return
        if ctx.anchor is None:
            self._post_run_message(box, ctx, state, version)
        while True:
            with self._cond:
                post = box.posts[0] if box.posts else None
            if post is None:
                break
            self._send(box, ctx, post)
            with self._cond:
                box.posts.popleft()
        self._update_prompts(box, ctx)
        self._update_run_message(box, ctx)

    def _discard(self, box: Outbox, *, gone: bool = False) -> None:
        with self._cond:
            box.gone = box.gone or gone
            box.posts.clear()
            box.reload = False
            box.drawn = box.prompts_drawn = box.version

    # ------------------------------------------------------------------ context

    def _context(self, run_id: str) -> _Context | None:
        ctx = self._contexts.get(run_id)
        if ctx is not None:
            return ctx
        record = self.store.get_run(run_id)
        if record is None:
            return None
        stored = self.store.get_version(record.runbook, record.version)
        if stored is None:
            return None
        loaded = load_text(stored.source, f"<store {stored.name}@{stored.version}>")
        notify = loaded.runbook.notify
        with self._cond:
            route = self._routes.get(run_id)
        ctx = _Context(
            loaded=loaded,
            params=dict(record.params),
            requester=record.requester,
            channel=notify.channel if notify else route,
            kinds=frozenset(notify.on) if notify else ALL_KINDS,
        )
        events = self.store.events(run_id)
        ctx.alert = _alert_of(events)
        link = (events[0].data or {}).get("rerun_of") if events else None
        ctx.rerun_of = link if isinstance(link, dict) else None
        self._adopt_anchors(run_id, ctx, events)
        self._contexts[run_id] = ctx
        return ctx

    def _adopt_anchors(self, run_id: str, ctx: _Context, events: list[EventRecord]) -> None:
        """Messages already posted for this run (by us earlier, or another process)."""
        requests = {e.seq: e for e in events if e.type == EventType.APPROVAL_REQUESTED}
        for event in events:
            data = event.data or {}
            if event.type == MESSAGE_EVENT and ctx.anchor is None:
                ctx.anchor = Anchor(str(data["channel"]), str(data["ts"]))
                ctx.channel = ctx.anchor.channel
            elif event.type == PROMPT_EVENT:
                seq = int(data["request_seq"])
                asked = requests.get(seq)
                if asked is not None and seq not in ctx.prompts:
                    prompt = Prompt.from_event(
                        run_id, ctx.loaded.runbook.name, ctx.requester, seq, asked.data or {}
                    )
                    anchor = Anchor(str(data["channel"]), str(data["ts"]))
                    ctx.prompts[seq] = _PromptAnchor(prompt, anchor)

    def _reload(self, box: Outbox, ctx: _Context) -> None:
        events = self.store.events(box.run_id)
        self._adopt_anchors(box.run_id, ctx, events)
        state = replay(Layout.of(ctx.loaded.runbook), events)
        info = RunInfo(
            id=box.run_id,
            runbook=ctx.loaded.runbook.name,
            version=ctx.loaded.runbook.version,
            digest=ctx.loaded.digest,
            requester=ctx.requester,
            notify_channel=ctx.channel,
        )
        with self._cond:
            box.reload = False
            if box.state is None or state.last_seq > box.state.last_seq:
                box.state = state
                box.version += 1
            heard = self._heard.get(box.run_id)
            for event in events:
                if heard is not None and event.seq > heard and not event.type.startswith("slack."):
                    box.posts.extend(posts_for(info, _bus_event(event)))
            self._hear(box.run_id, state.last_seq)
            queued = {p.prompt.seq for p in box.posts if isinstance(p, NewPrompt)}
            if state.status == WAITING_APPROVAL:
                # a prompt nobody posted yet (the run was started by the CLI, say)
                asked = [e for e in events if e.type == EventType.APPROVAL_REQUESTED]
                last = asked[-1] if asked else None
                if last is not None and last.seq not in ctx.prompts and last.seq not in queued:
                    prompt = Prompt.from_event(
                        box.run_id,
                        ctx.loaded.runbook.name,
                        ctx.requester,
                        last.seq,
                        last.data or {},
                    )
                    box.posts.append(NewPrompt(prompt))

    # ------------------------------------------------------------------ Slack calls

    def _changed(self, key: str, blocks: list[dict[str, Any]]) -> bool:
        with self._cond:
            return self._shown.get(key) != json.dumps(blocks, sort_keys=True)

    def _remember(self, key: str, blocks: list[dict[str, Any]]) -> None:
        with self._cond:
            self._shown[key] = json.dumps(blocks, sort_keys=True)
            self._shown.move_to_end(key)
            while len(self._shown) > SHOWN_KEPT:
                self._shown.popitem(last=False)

    def _update(
        self, run_id: str, key: str, anchor: Anchor, text: str, blocks: list[dict[str, Any]]
    ) -> None:
        """``chat.update`` a posted message, unless it already shows ``blocks``."""
        if not self._changed(key, blocks):
            return
        self._call(
            run_id, "chat.update", channel=anchor.channel, ts=anchor.ts, text=text, blocks=blocks
        )
        self._remember(key, blocks)

    def _call(self, run_id: str, method: str, **kwargs: Any) -> dict[str, Any] | None:
        """One Web API call, secrets masked. None if Slack refused for good (logged);
        raises _Transient when it is worth trying again later."""
        payload = _redact(kwargs, self.secrets(run_id))
        try:
            response = self.client.api_call(method, json=payload)
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            status = exc.response.status_code
            if status == 429 or status >= 500 or error in TRANSIENT:
                retry_after = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                    "retry-after"
                )
                if isinstance(retry_after, list):
                    retry_after = retry_after[0]
                wait = float(retry_after) if retry_after else 1.0
                raise _Transient(min(max(wait, 0.5), MAX_BACKOFF)) from exc
            log.error("Slack refused %s for run %s: %s", method, run_id, error or status)
            return None
        except (URLError, OSError, TimeoutError) as exc:
            log.warning("Slack unreachable (%s) for run %s: %s", method, run_id, exc)
            raise _Transient(2.0) from exc
        return dict(response.data) if isinstance(response.data, dict) else {}

    def _post_run_message(self, box: Outbox, ctx: _Context, state: RunState, version: int) -> None:
        assert ctx.channel is not None
        text, blocks = run_message(ctx.view(box.run_id, state), time.time())
        answer = self._call(
            box.run_id, "chat.postMessage", channel=ctx.channel, text=text, blocks=blocks
        )
        if answer is None:
            self._discard(box)  # the channel is wrong or we are not in it: said in the log
            raise _Transient(MAX_BACKOFF)
        ctx.anchor = Anchor(str(answer["channel"]), str(answer["ts"]))
        ctx.channel = ctx.anchor.channel
        self._remember(f"{box.run_id}:main", blocks)
        self.store.append_event(
            box.run_id, MESSAGE_EVENT, {"channel": ctx.anchor.channel, "ts": ctx.anchor.ts}
        )
        with self._cond:
            box.drawn = version
            box.next_update_at = time.monotonic() + self.min_interval

    def _send(self, box: Outbox, ctx: _Context, post: Post) -> None:
        assert ctx.anchor is not None
        if isinstance(post, Reply):
            if post.kind in ctx.kinds:
                self._call(
                    box.run_id,
                    "chat.postMessage",
                    channel=ctx.anchor.channel,
                    thread_ts=ctx.anchor.ts,
                    text=post.text,
                )
        elif isinstance(post, Summary):
            if FINISH in ctx.kinds:
                with self._cond:
                    state = box.state
                assert state is not None
                text = summary_reply(ctx.view(box.run_id, state), time.time())
                self._call(
                    box.run_id,
                    "chat.postMessage",
                    channel=ctx.anchor.channel,
                    thread_ts=ctx.anchor.ts,
                    text=text,
                )
        elif APPROVAL in ctx.kinds and post.prompt.seq not in ctx.prompts:
            with self._cond:
                state = box.state
            assert state is not None
            text, blocks = prompt_message(post.prompt, state, ctx.template_of(post.prompt.step))
            answer = self._call(
                box.run_id,
                "chat.postMessage",
                channel=ctx.anchor.channel,
                text=text,
                blocks=blocks,
            )
            if answer is not None:
                anchor = Anchor(str(answer["channel"]), str(answer["ts"]))
                ctx.prompts[post.prompt.seq] = _PromptAnchor(post.prompt, anchor)
                self._remember(f"{box.run_id}:prompt:{post.prompt.seq}", blocks)
                self.store.append_event(
                    box.run_id,
                    PROMPT_EVENT,
                    {
                        "step": post.prompt.step,
                        "request_seq": post.prompt.seq,
                        "channel": anchor.channel,
                        "ts": anchor.ts,
                    },
                    step_id=post.prompt.step,
                )

    def _update_prompts(self, box: Outbox, ctx: _Context) -> None:
        with self._cond:
            state, version = box.state, box.version
        if state is None or not box.prompts_dirty:
            return
        for seq, held in ctx.prompts.items():
            text, blocks = prompt_message(held.prompt, state, ctx.template_of(held.prompt.step))
            self._update(box.run_id, f"{box.run_id}:prompt:{seq}", held.anchor, text, blocks)
        with self._cond:
            box.prompts_drawn = version

    def _update_run_message(self, box: Outbox, ctx: _Context) -> None:
        with self._cond:
            state, version = box.state, box.version
            if state is None or not box.main_dirty:
                return
            finished = state.status in TERMINAL
            if not finished and self._forcing == 0 and time.monotonic() < box.next_update_at:
                return  # coalesce: the next update carries this state and whatever follows
        assert ctx.anchor is not None
        if "step" not in ctx.kinds and not finished:
            with self._cond:
                box.drawn = version
            return
        text, blocks = run_message(ctx.view(box.run_id, state), time.time())
        self._update(box.run_id, f"{box.run_id}:main", ctx.anchor, text, blocks)
        with self._cond:
            box.drawn = version
            box.next_update_at = time.monotonic() + self.min_interval


def _alert_of(events: list[EventRecord]) -> dict[str, Any] | None:
    """The alert ``run.created`` recorded, when an alert started the run."""
    if not events or events[0].type != EventType.RUN_CREATED:
        return None
    trigger = (events[0].data or {}).get("trigger")
    alert = trigger.get("alert") if isinstance(trigger, dict) else None
    return alert if isinstance(alert, dict) else None
