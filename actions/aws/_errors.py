"""AWS failures as ``ActionError``: AWS's own error code and message, and whether to retry.

botocore has already retried throttling and transient errors ``max_attempts`` times when an error
reaches us; those stay retryable so a step-level ``retry:`` can wait longer. A client error
(validation, not found, access denied) is the runbook's or the account's problem: not retryable.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from runbook_engine.errors import ActionError, ActionInputError

__all__ = ["THROTTLING_CODES", "aws_error"]

#: error codes AWS uses for "slow down" (the list botocore's standard retry mode acts on)
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
_TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "InternalError", "ServiceUnavailable"}
)
_NETWORK = (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError)
_CREDENTIALS = (NoCredentialsError, PartialCredentialsError, ProfileNotFound)


def aws_error(exc: BotoCoreError | ClientError, label: str) -> ActionError:
    """Translate ``exc``, raised while calling ``label`` (``ec2.DescribeInstances``)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        message = str(error.get("Message") or "").strip()
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        retryable = code in THROTTLING_CODES or code in _TRANSIENT_CODES or int(status) >= 500
        text = f"{label}: {code}: {message}" if message else f"{label}: {code}"
        return ActionError(text, kind="aws", retryable=retryable)
    if isinstance(exc, ParamValidationError):
        return ActionInputError(f"{label}: {exc}")
    if isinstance(exc, NoRegionError):
        return ActionInputError(
            f"{label}: no AWS region: give `region:` or set AWS_DEFAULT_REGION / a profile region"
        )
    if isinstance(exc, _CREDENTIALS):
        # Waiting does not make credentials appear: a human has to fix the setup.
        return ActionError(f"{label}: {exc}", kind="auth", retryable=False)
    if isinstance(exc, _NETWORK):
        return ActionError(f"{label}: {exc}", kind="aws", retryable=True)
    return ActionError(f"{label}: {exc}", kind="aws", retryable=False)
