"""A stand-in for SNS on loopback: a signing key and its self-signed certificate (made with
``cryptography``), served over HTTP with a subscription-confirmation URL, and messages signed
as SNS signs them (SignatureVersion 1: SHA1, 2: SHA256)."""

from __future__ import annotations

import base64
import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

TOPIC = "arn:aws:sns:eu-west-1:123456789012:runbooks"


def certificate(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class FakeSns:
    host: str  # host:port
    key: rsa.RSAPrivateKey
    confirmed: list[str] = field(default_factory=list)

    @property
    def cert_url(self) -> str:
        return f"http://{self.host}/cert.pem"

    def sign(self, message: dict[str, Any], version: str = "1") -> dict[str, Any]:
        """``message`` with SNS's signature fields, signed over SNS's canonical text."""
        if message["Type"] == "Notification":
            keys = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
        else:
            keys = [
                "Message",
                "MessageId",
                "SubscribeURL",
                "Timestamp",
                "Token",
                "TopicArn",
                "Type",
            ]
        text = "".join(f"{k}\n{message[k]}\n" for k in keys if k in message)
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(text.encode(), padding.PKCS1v15(), algorithm)
        return {
            **message,
            "SignatureVersion": version,
            "Signature": base64.b64encode(signature).decode(),
            "SigningCertURL": self.cert_url,
        }


@contextmanager
def fake_sns() -> Iterator[FakeSns]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = certificate(key)
    holder: list[FakeSns] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/cert.pem":
                body = pem
            elif self.path.startswith("/confirm"):
                holder[0].confirmed.append(self.path)
                body = b"<ConfirmSubscriptionResponse/>"
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sns = FakeSns(f"127.0.0.1:{server.server_address[1]}", key)
        holder.append(sns)
        yield sns
    finally:
        server.shutdown()
        server.server_close()
