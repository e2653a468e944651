"""What is still to be said in Slack about one run: the latest state to draw, and the posts not
yet made, in order.

Events arrive far faster than Slack accepts updates. The run message only ever needs the
*latest* state, so a burst of events collapses into one pending redraw (coalescing), while
posts that say something of their own (a failure, a rollback step, an approval prompt, the
summary) queue up in order and leave the queue only once Slack has accepted them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from runbook_engine.core.events import EventType
from runbook_engine.core.item_lines import ItemLines
from runbook_engine.core.state import RunState
from runbook_engine.core.statuses import TERMINAL
from runbook_engine.runtime.bus import Event, RunInfo
from runbook_engine.slack.messages import (
    attention_reply,
    blocked_reply,
    failure_reply,
    input_reply,
    rollback_reply,
)
from runbook_engine.slack.prompts import Prompt

#: ``notify.on`` kinds: each post belongs to one, so a runbook can turn kinds off
FAILURE = "failure"
APPROVAL = "approval"
FINISH = "finish"


@dataclass(frozen=True)
class Reply:
    """A reply in the run message's thread."""

    kind: str
    text: str


@dataclass(frozen=True)
class NewPrompt:
    prompt: Prompt


@dataclass(frozen=True)
class Summary:
    """The final summary; drawn from the state when it is sent."""


Post = Reply | NewPrompt | Summary


@dataclass(frozen=True)
class Anchor:
    """A message Slack has: where to update it."""

    channel: str
    ts: str


@dataclass
class Outbox:
    run_id: str
    info: RunInfo | None = None
    state: RunState | None = None
    version: int = 0  # bumped on every state change; a redraw is clean only for its version
    drawn: int = 0  # the version the run message shows
    prompts_drawn: int = 0
    posts: deque[Post] = field(default_factory=deque)
    reload: bool = False  # redraw from the store (the run moved on in another process)
    busy: bool = False  # a sender thread is working on it; one at a time keeps posts in order
    retry_at: float = 0.0  # Slack said to wait (rate limit) or was unreachable
    next_update_at: float = 0.0  # at most one run-message update per interval
    failures: int = 0
    gone: bool = False  # nothing to post to (no channel, no such run): drop once idle
    items: ItemLines = field(default_factory=ItemLines)

    # ---------------------------------------------------------------- filling

    def add(self, info: RunInfo, event: Event, state: RunState, *, say: bool = True) -> None:
        """File an event heard on the bus; ``say`` False: its posts were queued already."""
        self.info = info
        if self.state is None or state.last_seq >= self.state.last_seq:
            self.state = state
            self.version += 1
        # a loop's items: the replies of its first items and first failures, not 10,000
        if say and self.items.shows(event.step_id, event.type):
            self.posts.extend(posts_for(info, event))

    # ---------------------------------------------------------------- reading

    @property
    def main_dirty(self) -> bool:
        return self.state is not None and self.drawn != self.version

    @property
    def prompts_dirty(self) -> bool:
        return self.state is not None and self.prompts_drawn != self.version

    def due_at(self, now: float, *, force: bool = False) -> float | None:
        """When this outbox next has work to send (``None``: nothing to send)."""
        if self.busy:
            return None
        if not (self.reload or self.posts or self.main_dirty or self.prompts_dirty):
            return None
        at = self.retry_at
        if not (self.reload or self.posts or self.prompts_dirty) and not force:
            # only the run message is behind: wait for the update interval, unless the run
            # is over (the last state must land without waiting for more events)
            finished = self.state is not None and self.state.status in TERMINAL
            if not finished:
                at = max(at, self.next_update_at)
        return max(at, now) if at > now else now

    @property
    def idle(self) -> bool:
        return not (self.busy or self.reload or self.posts or self.main_dirty or self.prompts_dirty)


def posts_for(info: RunInfo, event: Event) -> list[Post]:
    """The posts an event calls for, besides redrawing the run message."""
    t = event.type
    if t == EventType.STEP_FAILED:
        return [Reply(FAILURE, failure_reply(event))]
    if t.startswith("rollback.") and t != EventType.ROLLBACK_RESOLVED:
        text = rollback_reply(event)
        return [Reply(FAILURE, text)] if text else []
    if t == EventType.RUN_NEEDS_ATTENTION:
        return [Reply(FAILURE, attention_reply(event))]
    if t == EventType.RUN_BLOCKED:
        return [Reply(FAILURE, blocked_reply(event))]
    if t == EventType.APPROVAL_REQUESTED:
        return [
            NewPrompt(
                Prompt.from_event(info.id, info.runbook, info.requester, event.seq, event.data)
            )
        ]
    if t == EventType.INPUT_REQUESTED:
        # a reply notifies (an edited message does not); posted with the approval prompts
        return [Reply(APPROVAL, input_reply(event))]
    if t == EventType.RUN_FINISHED:
        return [Summary()]
    return []
