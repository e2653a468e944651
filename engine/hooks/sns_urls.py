"""Which URLs an SNS message may make the server fetch: its signing certificate
(``SigningCertURL``) and, to confirm a subscription, ``SubscribeURL``.

Both come from the message, before its signature is known to be good, so anyone could name
any URL: only ``https`` on ``sns.<region>.amazonaws.com`` (``.amazonaws.com.cn`` in China) is
fetched, so a forged message can neither point the server at an address of its choosing nor
bring its own certificate. RUNBOOK_SNS_CERT_HOSTS (``host:port``, comma-separated) adds hosts
for tests, whose loopback servers may also speak plain ``http``; never set it in production."""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

from runbook_engine.hooks.refusal import Refused

#: test-only: further ``host:port`` entries allowed, http or https
HOSTS_ENV = "RUNBOOK_SNS_CERT_HOSTS"
_AWS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")


def _extra_hosts() -> set[str]:
    return {h.strip().lower() for h in os.environ.get(HOSTS_ENV, "").split(",") if h.strip()}


def check_url(url: str, what: str) -> str:
    """``url`` when the server may fetch it, else ``Refused``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused(f"{what} is not a URL") from None
    host = (parts.hostname or "").lower()
    if parts.username or parts.password:
        raise Refused(f"{what} carries credentials")
    if f"{host}:{port}" in _extra_hosts() and parts.scheme in ("http", "https"):
        return url
    if parts.scheme != "https" or port not in (None, 443) or not _AWS_HOST.fullmatch(host):
        raise Refused(f"{what} is not https on an sns.<region>.amazonaws.com host")
    return url
