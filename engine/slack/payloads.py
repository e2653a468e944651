"""What a signed Slack request holds, checked before any listener reads it.

A valid signature says Slack sent the bytes, not that they have the shape the listeners expect
(a client bug, an app manifest change, a test harness). Each request is read here with the very
parsers the listeners use, so a malformed one is refused with a reason (HTTP 400) instead of
failing inside a listener with a traceback and a 500. Reading it also yields its identity:
the same request delivered again (Slack's retries) has the same one.

Socket Mode envelopes (``read_envelope``) get the same checks and the same identities: their
payload is the body's content, already decoded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from runbook_engine.slack.modals import (
    REJECT_VIEW,
    RUN_VIEW,
    RunRequest,
    submitted_params,
    submitted_reason,
)
from runbook_engine.slack.prompts import APPROVE, REJECT, parse_button_value

#: what the listeners' parsers raise on input of the wrong shape
_SHAPE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)


class Malformed(ValueError):
    """The request is signed but cannot be handled; the message says why, in one line."""


@dataclass(frozen=True)
class Delivery:
    """A request as Slack identifies it: a retry of it has the same ``identity``."""

    kind: str  # "event", "command", or the interaction payload's type
    identity: str


def read_request(body: bytes, content_type: str) -> Delivery:
    """The delivery ``body`` is, or ``Malformed`` saying what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("body is not UTF-8") from None
    if content_type.partition(";")[0].strip().lower() == "application/json":
        return _event(_json_object(text, "body"), _digest(body))
    try:
        form = {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
    except ValueError as exc:
        raise Malformed(f"body is not a form: {exc}") from None
    if "payload" in form:
        return _interaction(_json_object(form["payload"], "payload"), _digest(body))
    if "ssl_check" in form:
        return Delivery("ssl_check", _digest(body))
    return _command(form, _digest(body))


def read_envelope(kind: str, envelope_id: str, payload: object) -> Delivery:
    """The delivery a Socket Mode envelope of type ``kind`` is, or ``Malformed``. Without an
    event or trigger id its identity is the envelope's: Slack redelivers an unacknowledged
    envelope under the same id."""
    if not isinstance(payload, dict):
        raise Malformed(f"{kind} envelope whose payload is {type(payload).__name__}, not an object")
    if isinstance(envelope_id, str) and envelope_id:
        fallback = f"envelope:{envelope_id}"
    else:
        fallback = _digest(json.dumps(payload, sort_keys=True, default=str).encode())
    if kind == "events_api":
        return _event(payload, fallback)
    if kind == "interactive":
        return _interaction(payload, fallback)
    if kind == "slash_commands":
        return _command(payload, fallback)
    raise Malformed(f"envelope of unknown type {kind!r}")


def _command(form: Mapping[str, Any], fallback: str) -> Delivery:
    for name in ("command", "user_id"):
        value = form.get(name)
        if not isinstance(value, str) or not value:
            raise Malformed(f"slash command without {name}")
    return Delivery("command", _trigger(form, fallback))


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise Malformed(f"{what} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Malformed(f"{what} is JSON {type(data).__name__}, not an object")
    return data


def _digest(body: bytes) -> str:
    # a retry is signed anew (another timestamp) but carries the same bytes
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _trigger(data: Mapping[str, Any], fallback: str) -> str:
    trigger = data.get("trigger_id")
    return f"trigger:{trigger}" if isinstance(trigger, str) and trigger else fallback


def _event(data: dict[str, Any], fallback: str) -> Delivery:
    kind = data.get("type")
    if not isinstance(kind, str):
        raise Malformed("events API body without a type")
    event_id = data.get("event_id")
    if kind == "event_callback" and not isinstance(event_id, str):
        raise Malformed("event_callback without an event_id")
    return Delivery("event", f"event:{event_id}" if event_id else fallback)


def _user_id(data: Mapping[str, Any]) -> None:
    user = data.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
        raise Malformed(f"{data.get('type')} without user.id")


def _check(what: str, parse: Callable[[], object]) -> None:
    try:
        parse()
    except _SHAPE_ERRORS as exc:
        raise Malformed(f"{what}: {type(exc).__name__}: {exc}") from None


def _interaction(data: dict[str, Any], fallback: str) -> Delivery:
    kind = data.get("type")
    if not isinstance(kind, str):
        raise Malformed("interaction payload without a type")
    if kind == "block_actions":
        _user_id(data)
        actions = data.get("actions")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
            raise Malformed("block_actions without actions")
        first = actions[0]
        if first.get("action_id") in (APPROVE, REJECT):
            _check("button value", lambda: parse_button_value(str(first["value"])))
    elif kind == "view_submission":
        _user_id(data)
        view = data.get("view")
        if not isinstance(view, dict):
            raise Malformed("view_submission without a view")
        if view.get("callback_id") == RUN_VIEW:
            _check("run form", lambda: RunRequest.loads(view.get("private_metadata") or "{}"))
            _check("run form", lambda: submitted_params(view))
        elif view.get("callback_id") == REJECT_VIEW:
            _check("reject form", lambda: submitted_reason(view))
    return Delivery(kind, _trigger(data, fallback))
