"""``runbook serve``: the Slack app and the run executor as one long-running process."""

from __future__ import annotations

import sys

import click

from runbook_engine.cli._common import user_errors


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="address to listen on (put a TLS-terminating proxy in front)",
)
@click.option(
    "--port",
    default=3000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="port to listen on; 0 picks a free one",
)
@click.option(
    "--grace",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0),
    help="seconds runs get to finish their current steps on SIGTERM",
)
@user_errors
def serve(host: str, port: int, grace: float) -> None:
    """Serve the HTTP API (/api/v1) and Slack (/runbook, approval buttons, live run
    messages), and run the runbooks.

    Configuration: RUNBOOK_DB for the store; RUNBOOK_OIDC_ISSUER and RUNBOOK_OIDC_AUDIENCE to
    accept the IdP's JWTs besides API tokens, RUNBOOK_POLICY for roles (docs/api.md);
    SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (without them, serve runs without Slack),
    SLACK_APP_TOKEN (Socket Mode), RUNBOOK_SLACK_API_URL (docs/slack.md).
    On start, runs left in flight by a previous server are resumed.
    """
    import os

    from runbook_engine.server.serve import ServeOptions, Server
    from runbook_engine.slack.settings import SlackSettings

    slack = None
    if os.environ.get("SLACK_BOT_TOKEN") or os.environ.get("SLACK_SIGNING_SECRET"):
        slack = SlackSettings.from_env()  # one of them set: both are needed, say which is missing
    server = Server(slack, ServeOptions(host=host, port=port, grace=grace))
    click.echo(
        f"runbook serve: API at {server.url}/api/v1 (OpenAPI: {server.url}/api/v1/openapi.json), "
        f"health at {server.url}/healthz, metrics at {server.url}/metrics, "
        f"web console at {server.url}/",
        err=True,
    )
    if slack is None:
        click.echo(
            "runbook serve: no SLACK_BOT_TOKEN: serving without Slack",
            err=True,
        )
    else:
        click.echo(f"runbook serve: Slack requests at {server.url}/slack/events", err=True)
    settled = server.serve_forever()
    click.echo(
        "runbook serve: stopped"
        + ("" if settled else " (some runs were mid-step; they resume on the next start)"),
        err=True,
    )
    sys.exit(0)
