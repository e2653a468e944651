"""Signing in to the console through the company's IdP: OpenID Connect's authorization-code
flow with PKCE, offered when ``RUNBOOK_OIDC_ISSUER`` is set (token sign-in stays).

``/signin/oidc`` sends the browser to the issuer's ``authorization_endpoint`` with a random
``state``, ``nonce`` and PKCE verifier kept in a short-lived signed cookie (path
``/signin/oidc``: only the callback reads it). ``/signin/oidc/callback`` checks the state,
exchanges the code at the ``token_endpoint`` (httpx, with timeouts), verifies the ID token with
the API's ``OidcVerifier`` (issuer, audience = the client id, expiry, signature by the JWKS)
and its nonce, and opens a session for that principal (``Sessions.begin_oidc``).

Settings beside the API's (``auth.oidc``): ``RUNBOOK_OIDC_CLIENT_ID`` (default: the audience),
``RUNBOOK_OIDC_CLIENT_SECRET`` (none: a public client, PKCE only),
``RUNBOOK_OIDC_CLIENT_AUTH`` (``client_secret_basic`` or ``client_secret_post``; default: basic
unless the IdP supports only post) and ``RUNBOOK_OIDC_REDIRECT_URI`` (default:
``<this server>/signin/oidc/callback``; set it behind a proxy that rewrites the host).

Nothing the IdP or the browser sends is quoted back unless it is a short error code, or the
IdP's own description of an answer whose state matched this browser's (anyone can craft a
link to the callback; only the IdP's genuine answers carry the right state).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

import httpx
from fastapi import APIRouter, Query, Request
from itsdangerous import BadSignature
from starlette.responses import RedirectResponse, Response

from runbook_engine.api.security import source_of
from runbook_engine.auth.jwks import KeysUnavailable, check_url
from runbook_engine.auth.oidc import OidcRefused, OidcVerifier
from runbook_engine.errors import RunbookError
from runbook_engine.terminal import printable
from runbook_engine.web.csrf import PRESESSION_COOKIE
from runbook_engine.web.session import SIGNIN_PATH, is_https, safe_next, sessions_of
from runbook_engine.web.templates import flash, render

log = logging.getLogger("runbook.web")

router = APIRouter()

START_PATH = "/signin/oidc"
CALLBACK_PATH = "/signin/oidc/callback"
FLOW_COOKIE = "runbook_oidc_flow"
#: how long a browser may spend at the IdP between leaving and coming back
FLOW_LIFETIME_S = 600
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
BASE_SCOPES = ("openid", "email", "profile")
#: the back-channel's patience: connecting, and the whole answer
_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_MAX_BYTES = 1 << 20
#: a browser drops a cookie over 4096 bytes without a word: refuse before that happens
_MAX_COOKIE = 3800
_ERROR_CODE = re.compile(r"[a-z_]{1,64}")


class IdpUnavailable(RunbookError):
    """The IdP's documents or token endpoint cannot be had: not the visitor's fault."""


class SignInFailed(Exception):
    """A sign-in through the IdP that did not succeed: shown on the sign-in page."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _fetch_document(url: str) -> Any:
    try:
        answer = httpx.get(check_url(url), timeout=_TIMEOUT, headers={"Accept": "application/json"})
        answer.raise_for_status()
    except (httpx.HTTPError, KeysUnavailable) as exc:
        raise IdpUnavailable(f"cannot fetch {url}: {exc}") from None
    if len(answer.content) > _MAX_BYTES:
        raise IdpUnavailable(f"{url}: the response is too large")
    try:
        return answer.json()
    except ValueError:
        raise IdpUnavailable(f"{url}: the response is not JSON") from None


@dataclass(frozen=True)
class Endpoints:
    authorization: str
    token: str
    scopes_supported: frozenset[str]
    auth_methods: tuple[str, ...]


class Discovery:
    """The issuer's discovery document, kept for ``ttl`` seconds (as its keys are, by
    ``JwksCache``): a sign-in should not cost a request to the IdP for its addresses."""

    def __init__(self, issuer: str, *, ttl: float = 300.0) -> None:
        self.issuer = issuer.rstrip("/")
        self.ttl = ttl
        self._found: Endpoints | None = None
        self._fetched_at = -float("inf")
        self._lock = threading.Lock()

    def endpoints(self) -> Endpoints:
        with self._lock:
            if self._found is None or time.monotonic() - self._fetched_at >= self.ttl:
                self._found = self._read(
                    _fetch_document(f"{self.issuer}/.well-known/openid-configuration")
                )
                self._fetched_at = time.monotonic()
            return self._found

    def _read(self, doc: Any) -> Endpoints:
        if not isinstance(doc, dict):
            raise IdpUnavailable(f"{self.issuer}: the discovery document is not an object")
        # OpenID Connect Discovery 4.3: the document must name the issuer it was fetched for
        if str(doc.get("issuer", "")).rstrip("/") != self.issuer:
            raise IdpUnavailable(f"{self.issuer}: the discovery document names another issuer")
        found: dict[str, str] = {}
        for name in ("authorization_endpoint", "token_endpoint"):
            value = doc.get(name)
            if not isinstance(value, str) or not value:
                raise IdpUnavailable(f"{self.issuer}: the discovery document has no {name}")
            try:
                # a code or a client secret sent in the clear could be read on the way
                found[name] = check_url(value)
            except KeysUnavailable:
                raise IdpUnavailable(f"{self.issuer}: {name} is not https") from None
        scopes = doc.get("scopes_supported")
        methods = doc.get("token_endpoint_auth_methods_supported")
        return Endpoints(
            found["authorization_endpoint"],
            found["token_endpoint"],
            frozenset(_strings(scopes)),
            tuple(_strings(methods)),
        )


def _strings(value: Any) -> list[str]:
    """The strings of a discovery document's list (absent or malformed: none)."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


@dataclass
class OidcSignIn:
    """The console's client of the IdP."""

    verifier: OidcVerifier  # audience: the client id
    client_id: str
    client_secret: str = ""
    auth_method: str = ""  # empty: chosen from the discovery document
    redirect_uri: str = ""  # empty: this server's callback, from the request
    discovery: Discovery | None = None

    def __post_init__(self) -> None:
        if self.discovery is None:
            self.discovery = Discovery(self.issuer)

    @property
    def issuer(self) -> str:
        return self.verifier.settings.issuer

    @property
    def label(self) -> str:
        """What the sign-in button names: the issuer's host."""
        return urlsplit(self.issuer).hostname or self.issuer

    @classmethod
    def from_env(cls, api: OidcVerifier, env: Mapping[str, str] | None = None) -> OidcSignIn:
        """The sign-in of the API's verifier; its ID tokens are for the client id, so a
        verifier sharing the API's key cache checks that audience instead."""
        env = os.environ if env is None else env
        client_id = env.get("RUNBOOK_OIDC_CLIENT_ID", "").strip() or api.settings.audience
        method = env.get("RUNBOOK_OIDC_CLIENT_AUTH", "").strip()
        if method and method not in AUTH_METHODS:
            raise RunbookError(f"RUNBOOK_OIDC_CLIENT_AUTH must be one of {', '.join(AUTH_METHODS)}")
        verifier = OidcVerifier(replace(api.settings, audience=client_id), keys=api.keys)
        return cls(
            verifier,
            client_id,
            env.get("RUNBOOK_OIDC_CLIENT_SECRET", "").strip(),
            method,
            env.get("RUNBOOK_OIDC_REDIRECT_URI", "").strip(),
        )

    def callback_uri(self, request: Request) -> str:
        if self.redirect_uri:
            return self.redirect_uri
        base = request.base_url
        if is_https(request):
            base = base.replace(scheme="https")
        return str(base).rstrip("/") + CALLBACK_PATH

    def endpoints(self) -> Endpoints:
        assert self.discovery is not None
        return self.discovery.endpoints()

    def scope(self, endpoints: Endpoints) -> str:
        """``openid email profile``, and the groups claim's scope when the IdP offers one
        (asking for a scope it does not know makes some IdPs refuse the whole sign-in)."""
        scopes = list(BASE_SCOPES)
        groups = self.verifier.settings.groups_claim
        if groups in endpoints.scopes_supported and groups not in scopes:
            scopes.append(groups)
        return " ".join(scopes)

    def method(self, endpoints: Endpoints) -> str:
        if self.auth_method:
            return self.auth_method
        offered = endpoints.auth_methods
        # RFC 8414: without the list, client_secret_basic is the default
        if offered and "client_secret_basic" not in offered and "client_secret_post" in offered:
            return "client_secret_post"
        return "client_secret_basic"

    def exchange(self, code: str, verifier: str, redirect_uri: str) -> str:
        """The ID token the token endpoint gives for ``code``; ``SignInFailed`` if refused."""
        endpoints = self.endpoints()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        auth: httpx.BasicAuth | None = None
        if self.client_secret and self.method(endpoints) == "client_secret_basic":
            # RFC 6749 2.3.1: both halves form-urlencoded before the Basic encoding
            auth = httpx.BasicAuth(_form_quote(self.client_id), _form_quote(self.client_secret))
        else:
            form["client_id"] = self.client_id
            if self.client_secret:
                form["client_secret"] = self.client_secret
        try:
            answer = httpx.post(
                endpoints.token,
                data=form,
                auth=auth,
                timeout=_TIMEOUT,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise IdpUnavailable(f"cannot reach {endpoints.token}: {exc}") from None
        try:
            body = answer.json() if len(answer.content) <= _MAX_BYTES else None
        except ValueError:
            body = None
        if answer.status_code != 200:
            error = body.get("error") if isinstance(body, dict) else None
            code_name = error if isinstance(error, str) and _ERROR_CODE.fullmatch(error) else ""
            log.warning(
                "the token endpoint refused a code: %s %s", answer.status_code, code_name or "-"
            )
            said = f" ({code_name})" if code_name else ""
            raise SignInFailed(400, f"the identity provider refused the sign-in code{said}")
        id_token = body.get("id_token") if isinstance(body, dict) else None
        if not isinstance(id_token, str) or not id_token:
            raise SignInFailed(502, "the identity provider answered without an ID token")
        return id_token


def _form_quote(value: str) -> str:
    return urlencode({"": value})[1:]


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign_in_of(request: Request) -> OidcSignIn | None:
    found = getattr(request.app.state, "oidc_signin", None)
    return found if isinstance(found, OidcSignIn) else None


def signin_context(request: Request, next_path: str | None) -> dict[str, Any]:
    """What the sign-in page shows: where to go next, and the IdP's button if there is one."""
    where = safe_next(next_path)
    client = sign_in_of(request)
    href = START_PATH if where == "/" else f"{START_PATH}?{urlencode({'next': where})}"
    return {
        "next_path": where,
        "oidc_label": client.label if client is not None else None,
        "oidc_href": href,
    }


def _failed(request: Request, status: int, reason: str) -> Response:
    response = render(
        request,
        "signin.html",
        status_code=status,
        **signin_context(request, None),
        error=f"Not signed in: {reason}.",
    )
    _clear_flow(response, request)
    return response


def _set_flow(response: Response, request: Request, flow: dict[str, str]) -> None:
    response.set_cookie(
        FLOW_COOKIE,
        sessions_of(request).flow_signer.dumps(flow),
        max_age=FLOW_LIFETIME_S,
        path=START_PATH,
        secure=is_https(request),
        httponly=True,
        # Lax: the IdP's redirect back is a top-level GET, which carries it
        samesite="lax",
    )


def _clear_flow(response: Response, request: Request) -> None:
    response.delete_cookie(
        FLOW_COOKIE, path=START_PATH, secure=is_https(request), httponly=True, samesite="lax"
    )


def _flow(request: Request) -> dict[str, str] | None:
    cookie = request.cookies.get(FLOW_COOKIE)
    if not cookie:
        return None
    try:
        value = sessions_of(request).flow_signer.loads(cookie, max_age=FLOW_LIFETIME_S)
    except BadSignature:
        return None
    keys = ("state", "nonce", "verifier", "next", "redirect_uri")
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in keys):
        return None
    return {k: value[k] for k in keys}


@router.get(START_PATH)
def start(
    request: Request, next_path: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    client = sign_in_of(request)
    if client is None:
        return _failed(request, 404, "no identity provider is configured on this server")
    try:
        endpoints = client.endpoints()
    except IdpUnavailable as exc:
        log.error("cannot start a sign-in through %s: %s", client.issuer, exc)
        return _failed(request, 503, "the identity provider cannot be reached: try again later")
    verifier = secrets.token_urlsafe(48)
    flow = {
        "state": secrets.token_urlsafe(32),
        "nonce": secrets.token_urlsafe(32),
        "verifier": verifier,
        "next": safe_next(next_path),
        "redirect_uri": client.callback_uri(request),
    }
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": flow["redirect_uri"],
        "scope": client.scope(endpoints),
        "state": flow["state"],
        "nonce": flow["nonce"],
        "code_challenge": _challenge(verifier),
        "code_challenge_method": "S256",
    }
    sep = "&" if urlsplit(endpoints.authorization).query else "?"
    response = RedirectResponse(endpoints.authorization + sep + urlencode(query), 303)
    _set_flow(response, request, flow)
    return response


@router.get(CALLBACK_PATH)
def callback(request: Request) -> Response:
    client = sign_in_of(request)
    if client is None:
        return _failed(request, 404, "no identity provider is configured on this server")
    try:
        return _finish(request, client)
    except SignInFailed as exc:
        return _failed(request, exc.status, exc.reason)
    except IdpUnavailable as exc:
        log.error("a sign-in through %s failed: %s", client.issuer, exc)
        return _failed(request, 503, "the identity provider cannot be reached: try again later")


def _finish(request: Request, client: OidcSignIn) -> Response:
    params = request.query_params
    flow = _flow(request)
    state = params.get("state", "")
    matched = flow is not None and hmac.compare_digest(state.encode(), flow["state"].encode())
    error = params.get("error")
    if error is not None:
        code = error if _ERROR_CODE.fullmatch(error) else "an error"
        reason = f"the identity provider said {code}"
        description = params.get("error_description", "")
        if matched and description:
            # only the IdP's own answer (its state matched) may put words on this page
            reason += f": {printable(description)[:200]}"
        log.info("a sign-in through %s ended with %s", client.issuer, code)
        raise SignInFailed(401 if code == "access_denied" else 400, reason)
    if flow is None:
        raise SignInFailed(
            400, "the sign-in expired or was started in another browser: sign in again"
        )
    if not matched:
        log.warning("a sign-in callback from %s carried the wrong state", source_of(request))
        raise SignInFailed(
            400, "the identity provider's answer does not belong to this sign-in: sign in again"
        )
    code = params.get("code", "")
    if not code:
        raise SignInFailed(400, "the identity provider sent no sign-in code")
    id_token = client.exchange(code, flow["verifier"], flow["redirect_uri"])
    source = source_of(request)
    try:
        claims = client.verifier.claims(id_token)
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not hmac.compare_digest(
            nonce.encode(), flow["nonce"].encode()
        ):
            # an ID token minted for another sign-in (a replay) must not open this one
            raise OidcRefused("its nonce is not this sign-in's")
        azp = claims.get("azp")
        if azp is not None and azp != client.client_id:
            raise OidcRefused("it was issued to another client (azp)")
        principal = client.verifier.principal(claims, source)
    except OidcRefused as exc:
        log.warning("refused an ID token from %s: %s", client.issuer, exc)
        raise SignInFailed(401, f"the identity provider's ID token was refused: {exc}") from None
    except KeysUnavailable as exc:
        raise IdpUnavailable(str(exc)) from None
    expires = float(claims["exp"])
    if expires <= time.time():
        # within the verifier's leeway, but a session ending at once would loop back here
        raise SignInFailed(401, "the identity provider's ID token has expired (check the clocks)")
    sessions = sessions_of(request)
    session = sessions.begin_oidc(principal, client.issuer, str(claims["sub"]), expires)
    if len(sessions.encode(session)) > _MAX_COOKIE:
        raise SignInFailed(
            400,
            f"the identity provider names {len(session.groups)} groups, more than a session "
            "can keep: ask for a narrower groups claim",
        )
    response = RedirectResponse(flow["next"], status_code=303)
    sessions.set_cookie(response, request, session)
    response.delete_cookie(PRESESSION_COOKIE, path="/")
    _clear_flow(response, request)
    flash(response, request, f"Signed in as {principal.name}.")
    return response


__all__ = ["CALLBACK_PATH", "SIGNIN_PATH", "START_PATH", "OidcSignIn", "router", "sign_in_of"]
