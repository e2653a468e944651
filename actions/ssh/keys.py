"""Client keys: given as text (a secret parameter), as files, or held by an SSH agent.

Keys are tried in this order: the step's ``key`` text, the step's or inventory's ``key_file``,
the agent's keys, then (only when no key was named) ``~/.ssh/id_ed25519``, ``id_ecdsa`` and
``id_rsa``, as OpenSSH does. Parsed keys are cached for the run: parsing is cheap, but not
a thousand times.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections.abc import Callable
from pathlib import Path

import paramiko

from runbook_engine.actions.ssh.errors import HostFailure

__all__ = ["DEFAULT_KEY_FILES", "KeyRing", "agent_keys"]

DEFAULT_KEY_FILES = ("id_ed25519", "id_ecdsa", "id_rsa")
_KEY_CLASSES: tuple[type[paramiko.PKey], ...] = (
    paramiko.Ed25519Key,
    paramiko.ECDSAKey,
    paramiko.RSAKey,
)


class KeyRing:
    """Private keys parsed once per run, by file path or by a digest of the key text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, paramiko.PKey] = {}

    def from_text(self, text: str, passphrase: str | None) -> paramiko.PKey:
        digest = "text:" + hashlib.sha256(text.encode()).hexdigest()
        return self._cached(digest, lambda: _parse_text(text, passphrase))

    def from_file(self, path: str, passphrase: str | None) -> paramiko.PKey:
        resolved = str(Path(path).expanduser())
        return self._cached("file:" + resolved, lambda: _parse_file(resolved, passphrase))

    def defaults(self) -> list[paramiko.PKey]:
        """``~/.ssh/id_*`` keys that exist and load without a passphrase."""
        found: list[paramiko.PKey] = []
        for name in DEFAULT_KEY_FILES:
            path = Path.home() / ".ssh" / name
            if path.is_file():
                try:
                    found.append(self.from_file(str(path), None))
                except HostFailure:
                    continue  # encrypted or unreadable: OpenSSH would ask; we cannot
        return found

    def _cached(self, key: str, load: Callable[[], paramiko.PKey]) -> paramiko.PKey:
        with self._lock:
            found = self._cache.get(key)
        if found is not None:
            return found
        parsed = load()
        with self._lock:
            return self._cache.setdefault(key, parsed)


def agent_keys() -> tuple[paramiko.Agent | None, list[paramiko.PKey]]:
    """A fresh agent connection and its keys, when ``SSH_AUTH_SOCK`` is set.

    One connection per handshake: paramiko's agent client is not safe to share between the
    transport threads that sign with it at the same time. Close the agent after use.
    """
    if not os.environ.get("SSH_AUTH_SOCK"):
        return None, []
    try:
        agent = paramiko.Agent()
    except paramiko.SSHException:
        return None, []
    return agent, list(agent.get_keys())


def _parse_text(text: str, passphrase: str | None) -> paramiko.PKey:
    for cls in _KEY_CLASSES:
        try:
            return cls.from_private_key(io.StringIO(text), password=passphrase)
        except paramiko.PasswordRequiredException:
            raise HostFailure(
                "input", "the private key is encrypted: give key_passphrase", retryable=False
            ) from None
        except (paramiko.SSHException, ValueError):
            continue  # not this type; try the next
    raise HostFailure(
        "input",
        "the private key text is not a key paramiko can read (OpenSSH or PEM format; "
        "Ed25519, ECDSA or RSA)",
        retryable=False,
    )


def _parse_file(path: str, passphrase: str | None) -> paramiko.PKey:
    try:
        return paramiko.PKey.from_path(path, passphrase=passphrase)
    except FileNotFoundError:
        raise HostFailure("input", f"key file {path} does not exist", retryable=False) from None
    except OSError as exc:
        raise HostFailure(
            "input", f"cannot read key file {path}: {exc.strerror}", retryable=False
        ) from None
    except TypeError:
        # cryptography raises TypeError for an encrypted key without a password
        raise HostFailure(
            "input", f"key file {path} is encrypted: give key_passphrase", retryable=False
        ) from None
    except (ValueError, paramiko.SSHException, paramiko.pkey.UnknownKeyType) as exc:
        raise HostFailure("input", f"cannot load key file {path}: {exc}", retryable=False) from None
