"""Where AWS calls go and as whom: region, profile, an assumed role, retry settings.

Clients are cached in ``ctx.resources`` for the run, so the steps of one run share their HTTP
connection pools and an assumed role is assumed once, not once per poll. The cache is closed (and
the pools with it) when the run ends.

Endpoints are boto3's own business: ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` work as
they do for every boto3 program, which is also how the tests reach moto.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any, Literal

import boto3
from botocore.config import Config
from pydantic import Field, field_validator

from runbook_engine.actions.aws._model import botocore_session
from runbook_engine.plugin.contract import ActionContext, ActionParams

__all__ = ["AwsClients", "AwsTarget", "clients_for", "session_name"]

#: key of the client cache in ``ctx.resources``
RESOURCE_KEY = "aws.clients"
#: assumed-role credentials are renewed when they have less than this many seconds left
_RENEW_BEFORE = 300.0
_ROLE_SECONDS = 3600
_ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_SESSION_NAME_UNSAFE = re.compile(r"[^\w+=,.@-]")


class AwsTarget(ActionParams):
    """Parameters every AWS action takes: where to call and how hard to retry.

    An empty string means "not set", so a runbook-wide parameter with ``default: ""`` can be
    passed to every step (``role_arn: "{{ params.role_arn }}"``) and mean "no role" when not given.
    """

    region: str | None = None
    profile: str | None = None
    #: assumed for the calls of this step; CloudTrail shows the session as ``runbook-<run id>``
    role_arn: str | None = None
    #: botocore retry mode: ``standard`` (exponential backoff) or ``adaptive`` (also rate-limits)
    retry_mode: Literal["standard", "adaptive"] = "standard"
    #: total tries per API call, the first included, before the error reaches the step
    max_attempts: int = Field(default=5, ge=1, le=20)

    @field_validator("region", "profile", "role_arn", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("role_arn")
    @classmethod
    def _role_arn_shape(cls, value: str | None) -> str | None:
        if value is not None and not _ROLE_ARN.match(value):
            raise ValueError(
                f"{value!r} is not an IAM role ARN (arn:aws:iam::123456789012:role/name)"
            )
        return value

    def target_note(self) -> str:
        """`` [region=..., role=...]`` for plans; empty when everything is the default."""
        parts = [
            f"{key}={value}"
            for key, value in (
                ("region", self.region),
                ("profile", self.profile),
                ("role", self.role_arn),
            )
            if value
        ]
        return f" [{', '.join(parts)}]" if parts else ""


def session_name(run_id: str) -> str:
    """The assumed-role session name: ``runbook-<run id>``, within STS's 64 allowed characters."""
    return _SESSION_NAME_UNSAFE.sub("-", f"runbook-{run_id}")[:64]


class AwsClients:
    """boto3 clients for one run, by service and target. Thread-safe: parallel steps share it."""

    def __init__(self, run_id: str) -> None:
        self._run_id = run_id
        self._lock = threading.Lock()
        self._sessions: dict[tuple[str | None, str | None, str | None], tuple[Any, float]] = {}
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._retired: list[Any] = []

    def client(self, service: str, target: AwsTarget) -> Any:
        """A client for ``service`` as ``target`` says; cached, renewed with the role."""
        session_key = (target.region, target.profile, target.role_arn)
        with self._lock:
            session, expires = self._sessions.get(session_key, (None, 0.0))
            if session is None or time.time() > expires - _RENEW_BEFORE:
                session, expires = self._new_session(target)
                self._sessions[session_key] = (session, expires)
                # Clients of the old session carry its expiring credentials. Another step may be
                # in a call on one right now, so they are only closed at run end.
                for key in [k for k in self._clients if k[0] == session_key]:
                    self._retired.append(self._clients.pop(key))
            key = (session_key, service, target.retry_mode, target.max_attempts)
            found = self._clients.get(key)
            if found is None:
                # botocore's ``max_attempts`` key counts retries only; ``total_max_attempts``
                # counts tries, as AWS_MAX_ATTEMPTS and this action's parameter do.
                retries = {"mode": target.retry_mode, "total_max_attempts": target.max_attempts}
                config = Config(
                    retries=retries,
                    user_agent_extra=f"runbook-engine/{self._run_id}",
                )
                found = session.client(service, config=config)
                self._clients[key] = found
            return found

    def _new_session(self, target: AwsTarget) -> tuple[Any, float]:
        base = boto3.Session(
            profile_name=target.profile,
            region_name=target.region,
            botocore_session=botocore_session(),
        )
        if target.role_arn is None:
            return base, float("inf")
        sts = base.client("sts", config=Config(retries={"mode": target.retry_mode}))
        try:
            answer = sts.assume_role(
                RoleArn=target.role_arn,
                RoleSessionName=session_name(self._run_id),
                DurationSeconds=_ROLE_SECONDS,
            )
        finally:
            sts.close()
        creds = answer["Credentials"]
        session = boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=target.region or base.region_name,
            botocore_session=botocore_session(),
        )
        expiration = creds.get("Expiration")
        expires = expiration.timestamp() if expiration is not None else time.time() + 900
        return session, expires

    def close(self) -> None:
        """Close every client's connection pool (called by the runtime at run end)."""
        with self._lock:
            for client in [*self._clients.values(), *self._retired]:
                client.close()
            self._clients.clear()
            self._retired.clear()
            self._sessions.clear()


def clients_for(ctx: ActionContext) -> AwsClients:
    """The run's client cache, created on first use."""
    found = ctx.resources.get(RESOURCE_KEY)
    if isinstance(found, AwsClients):
        return found
    # setdefault is atomic, so two parallel steps that race here still end up sharing one cache
    cache = ctx.resources.setdefault(RESOURCE_KEY, AwsClients(ctx.run_id))
    assert isinstance(cache, AwsClients)
    return cache
