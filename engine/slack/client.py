"""The Slack Web API client every part of the app shares, with retries for what is transient.

Rate limits (429 with Retry-After), dropped connections and Slack's 5xx answers are retried by
slack_sdk's own handlers; what is still failing after that is the caller's to retry later (the
notifier keeps the work and tries again, so nothing is dropped).
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from runbook_engine.slack.settings import SlackSettings

RETRIES = 2
TIMEOUT = 15  # seconds for one HTTP call; Slack answers in well under a second


def _handlers() -> list[
    ConnectionErrorRetryHandler | RateLimitErrorRetryHandler | ServerErrorRetryHandler
]:
    return [
        ConnectionErrorRetryHandler(max_retry_count=RETRIES),
        RateLimitErrorRetryHandler(max_retry_count=RETRIES),
        ServerErrorRetryHandler(max_retry_count=RETRIES),
    ]


def make_client(settings: SlackSettings) -> WebClient:
    return WebClient(
        token=settings.bot_token,
        base_url=settings.api_url,
        timeout=TIMEOUT,
        retry_handlers=list(_handlers()),
    )


def webhook(url: str) -> WebhookClient:
    """A client for a ``response_url`` from a slash command or button payload."""
    return WebhookClient(url, timeout=TIMEOUT, retry_handlers=list(_handlers()))
