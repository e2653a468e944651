"""The client side has no store and no runbook files: what it shows comes from the server."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tests.client.conftest import Remote

HELLO = """\
name: hello
version: 1
description: say hello
steps:
  - id: greet
    action: log
    with: {message: hello}
"""


def test_the_server_answers_who_the_token_is(
    remote_factory: Callable[[Mapping[str, str]], Remote],
) -> None:
    remote = remote_factory({"hello": HELLO})
    import httpx

    answer = httpx.get(
        remote.url + "/api/v1/me",
        headers={"Authorization": f"Bearer {remote.token('alice@example.com')}"},
    )
    assert answer.status_code == 200
    assert answer.json()["name"] == "alice@example.com"
    assert not (remote.home / "runbooks").exists()
