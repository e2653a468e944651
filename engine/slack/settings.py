"""What the Slack app needs from the environment, read once and checked at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from runbook_engine.errors import RunbookError

SLACK_API_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str
    signing_secret: str
    app_token: str | None = None
    api_url: str = SLACK_API_URL

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SlackSettings:
        env = os.environ if env is None else env
        missing = [k for k in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET") if not env.get(k)]
        if missing:
            raise RunbookError(
                f"{' and '.join(missing)} must be set to serve Slack (see docs/slack.md)"
            )
        url = env.get("RUNBOOK_SLACK_API_URL") or SLACK_API_URL
        return cls(
            bot_token=env["SLACK_BOT_TOKEN"],
            signing_secret=env["SLACK_SIGNING_SECRET"],
            app_token=env.get("SLACK_APP_TOKEN") or None,
            # WebClient joins method names onto the base URL, so it must end with a slash
            api_url=url if url.endswith("/") else url + "/",
        )
