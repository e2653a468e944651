"""Who a Slack user is when Slack cannot say: the name it gave before, else a refusal; a user
Slack does not know keeps their id."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from runbook_engine.auth.slack_identity import IdentityUnavailable, SlackIdentities


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_user_slack_cannot_name_is_refused_not_taken_for_their_id() -> None:
    # acting as the bare id while Slack is down would make one person two approvers (their
    # email before, their id now): refused until Slack answers
    clock = Clock()
    failing = [True]
    asked: list[str] = []

    def users_info(user: str) -> dict[str, Any]:
        asked.append(user)
        if failing[0]:
            raise OSError("Slack is down")
        return {"user": {"profile": {"email": "dana@example.com"}}}

    identities = SlackIdentities(users_info=users_info, ttl=3600, retry_after=30, clock=clock)
    with pytest.raises(IdentityUnavailable, match="U0DANA"):
        identities.principal("U0DANA")
    failing[0] = False
    clock.now = 10
    dana = identities.principal("U0DANA", groups=["@Leads"])
    assert (dana.name, dana.via, dana.groups) == (
        "dana@example.com",
        "slack:U0DANA",
        frozenset({"leads"}),
    )
    clock.now = 3000
    assert identities.name_of("U0DANA") == "dana@example.com"
    assert asked == ["U0DANA", "U0DANA"]  # the answer is kept for the ttl


def test_a_named_user_keeps_their_name_through_an_outage_and_slack_is_asked_again_soon() -> None:
    clock = Clock()
    failing = [False]
    asked: list[str] = []

    def users_info(user: str) -> dict[str, Any]:
        asked.append(user)
        if failing[0]:
            raise OSError("Slack is down")
        return {"user": {"profile": {"email": "dana@example.com"}}}

    identities = SlackIdentities(users_info=users_info, ttl=60, retry_after=30, clock=clock)
    assert identities.name_of("U0DANA") == "dana@example.com"
    failing[0] = True
    clock.now = 61  # the answer has expired, and Slack is down
    assert identities.name_of("U0DANA") == "dana@example.com"
    clock.now = 70
    assert identities.name_of("U0DANA") == "dana@example.com"
    assert asked == ["U0DANA", "U0DANA"]  # not asked again before retry_after
    clock.now = 92
    identities.name_of("U0DANA")
    assert len(asked) == 3


def test_a_user_slack_does_not_know_keeps_their_id() -> None:
    def users_info(user: str) -> dict[str, Any]:
        raise SlackApiError("no such user", {"ok": False, "error": "user_not_found"})

    assert SlackIdentities(users_info=users_info).name_of("U0GHOST") == "U0GHOST"


def test_the_mapping_file_wins_and_needs_no_lookup() -> None:
    def users_info(user: str) -> dict[str, Any]:
        raise AssertionError("a mapped user is not looked up")

    identities = SlackIdentities({"u0ann": "ann@example.com"}, users_info)
    assert identities.principal("U0ANN").name == "ann@example.com"
