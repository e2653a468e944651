"""Only the runbook author's mentions are mentions: parameters, output, errors and reasons
reach Slack escaped. End to end through ``runbook serve`` and the fake Slack API, plus the
escaping rules themselves."""

from __future__ import annotations

import json
from pathlib import Path

from runbook_engine.server.serve import Server
from runbook_engine.slack.escaping import author_markup, author_text, escape
from runbook_engine.slack.prompts import REJECT
from runbook_engine.testing.fake_slack import FakeSlack
from tests.slack.slack_helpers import (
    ALICE,
    BOB,
    SlackPlayer,
    button_value,
    ephemerals,
    prompt_of,
    run_message_of,
    texts,
)
from tests.slack.test_slack_e2e import only_run, wait_status

SHOUT = """\
apiVersion: runbook/v1
name: shout
version: 1
parameters:
  note: {type: string}
notify: {channel: "#ops"}
steps:
  - id: approve
    approval: {message: "<!subteam^S0LEADS> please look: {{ params.note }}", timeout: 1h}
  - id: echo
    action: shell.command
    with: {command: ["sh", "-c", "echo \\"$0\\" >&2; exit 3", "{{ params.note }}"]}
"""

HOSTILE = "<!here> & <@U0EVE> <https://evil.example|your bank>"
ESCAPED = "&lt;!here&gt; &amp; &lt;@U0EVE&gt; &lt;https://evil.example|your bank&gt;"


def _posted(fake: FakeSlack) -> str:
    """Every text the app sent to Slack, blocks and fallbacks, in one string."""
    parts: list[str] = []
    for call in fake.calls("chat.postMessage") + fake.calls("chat.update"):
        parts.append(str(call.params.get("text", "")))
        blocks = call.params.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        parts.append(texts(blocks or []))
    return "\n".join(parts)


def test_a_parameter_with_mentions_is_shown_not_sent(
    server: Server, player: SlackPlayer, fake: FakeSlack, slack_env: Path
) -> None:
    (slack_env / "runbooks" / "shout.yaml").write_text(SHOUT)
    assert player.command(f"run shout 'note={HOSTILE}'")[0] == 200
    fake.wait_for(lambda f: server.store.list_runs(runbook="shout"))
    run = only_run(server, "shout")
    wait_status(server, run.id, "waiting_approval")
    prompt = fake.wait_for(lambda f: prompt_of(f, run.id))
    shown = texts(prompt.blocks)
    # the author's user group mention is live, the parameter's markup is text
    assert f"<!subteam^S0LEADS> please look: {ESCAPED}" in shown
    assert fake.wait_for(lambda f: run_message_of(f, run.id))
    # the requester rejecting their own run is told so in the right words
    player.click(prompt.channel, prompt.ts, REJECT, button_value(prompt, REJECT), user=ALICE)
    told = fake.wait_for(lambda f: next((t for t in ephemerals(f, ALICE) if "cannot" in t), ""))
    assert "cannot reject it" in told
    assert player.command(f"approve {run.id}", user=BOB)[0] == 200
    wait_status(server, run.id, "failed")
    assert server.notifier is not None and server.notifier.flush(10)
    posted = _posted(fake)
    for live in ("<!here>", "<@U0EVE>", "<https://evil.example"):
        assert live not in posted, live
    assert "<!subteam^S0LEADS>" in posted  # the author's own
    assert ESCAPED in posted  # the run message's parameters, the stderr tail


def test_escape_writes_the_three_control_characters_as_entities() -> None:
    assert escape("a < b && c > d") == "a &lt; b &amp;&amp; c &gt; d"
    assert escape("*bold* `code` :emoji:") == "*bold* `code` :emoji:"  # formatting stays


def test_author_text_keeps_only_the_templates_own_sequences() -> None:
    template = "<!here> deploy {{ params.what }} for <@{{ params.who }}> {# <!channel> #}"
    assert author_markup(template) == {"<!here>"}
    rendered = "<!here> deploy <!channel> & co for <@U0EVE> "
    assert author_text(rendered, template) == (
        "<!here> deploy &lt;!channel&gt; &amp; co for &lt;@U0EVE&gt; "
    )
    assert author_text("<!here>", "") == "&lt;!here&gt;"  # no template: nothing is live
