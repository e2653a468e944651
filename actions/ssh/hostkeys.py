"""Host key checking against known_hosts files: on by default, refusing unknown and changed keys.

Like OpenSSH, a host is looked up by the address we connect to (``[address]:port`` for a port
other than 22); hashed entries work. The files are ``~/.ssh/known_hosts``,
``/etc/ssh/ssh_known_hosts`` and any ``known_hosts`` named by the inventory or the step.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import paramiko

from runbook_engine.actions.ssh.errors import HostFailure

__all__ = ["KnownHosts", "default_files", "host_key_name", "preferred_key_types"]

_SYSTEM_FILE = Path("/etc/ssh/ssh_known_hosts")

# known_hosts stores an RSA key as "ssh-rsa"; the signature algorithms that may present it are
# these, strongest first (OpenSSH servers no longer accept SHA-1 "ssh-rsa" by default).
_ALGORITHMS = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")}


def default_files() -> list[Path]:
    user_file = Path.home() / ".ssh" / "known_hosts"
    return [p for p in (user_file, _SYSTEM_FILE) if p.is_file()]


def host_key_name(address: str, port: int) -> str:
    if port == 22:
        return address
    return f"[{address}]:{port}"


class _File:
    """One parsed known_hosts file, indexed by name: a fleet's file has one line per host,
    and a linear scan per host would make checking quadratic in the fleet size."""

    def __init__(self, path: Path) -> None:
        self.keys = paramiko.HostKeys()
        try:
            self.keys.load(str(path))
        except OSError as exc:
            raise HostFailure(
                "input", f"cannot read known_hosts {path}: {exc.strerror}", retryable=False
            ) from None
        self.index: dict[str, dict[str, paramiko.PKey]] = {}
        self.hashed = False
        for name in list(self.keys):
            if name.startswith("|1|"):
                self.hashed = True
            else:
                self.index[name] = dict(self.keys[name])

    def lookup(self, name: str) -> dict[str, paramiko.PKey]:
        found = self.index.get(name)
        if found is None and self.hashed:
            entry = self.keys.lookup(name)  # HMAC of the name against every hashed line
            found = dict(entry) if entry is not None else None
        return found or {}


class KnownHosts:
    """Parsed known_hosts files, cached for a run (many hosts share a few big files)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parsed: dict[Path, _File] = {}

    def _load(self, path: Path) -> _File:
        with self._lock:
            found = self._parsed.get(path)
            if found is None:
                found = self._parsed[path] = _File(path)
            return found

    def lookup(self, files: Sequence[Path], address: str, port: int) -> dict[str, paramiko.PKey]:
        """Every key the files list for the host, by key type (the first file wins a type)."""
        name = host_key_name(address, port)
        keys: dict[str, paramiko.PKey] = {}
        for path in files:
            for kind, key in self._load(path).lookup(name).items():
                keys.setdefault(kind, key)
        return keys

    def check(
        self, files: Sequence[Path], address: str, port: int, server_key: paramiko.PKey
    ) -> None:
        """Raise ``HostFailure`` (kind ``hostkey``) unless ``server_key`` is the known key."""
        name = host_key_name(address, port)
        known = self.lookup(files, address, port)
        where = ", ".join(str(p) for p in files) or "no known_hosts file"
        offered = f"{server_key.get_name()} {server_key.fingerprint}"
        if not known:
            raise HostFailure(
                "hostkey",
                f"host key of {name} is not in known_hosts ({where}); refusing {offered}. "
                f"Verify it and add it (ssh-keyscan), or name a known_hosts file",
                retryable=False,
            )
        expected = known.get(server_key.get_name())
        if expected is None or expected.asbytes() != server_key.asbytes():
            listed = ", ".join(f"{k.get_name()} {k.fingerprint}" for k in known.values())
            raise HostFailure(
                "hostkey",
                f"HOST KEY MISMATCH for {name}: the server offered {offered} but known_hosts "
                f"({where}) has {listed}. Someone may be intercepting the connection, or the "
                f"host was reinstalled; refused",
                retryable=False,
            )


def preferred_key_types(known: Iterable[str], supported: Sequence[str]) -> list[str]:
    """The host key algorithms to offer: those matching known keys first, then the rest.

    Without this, a server with an RSA and an Ed25519 key might pick the one we do not know
    and be refused although the other one is in known_hosts.
    """
    first: list[str] = []
    for kind in known:
        for algorithm in _ALGORITHMS.get(kind, (kind,)):
            if algorithm in supported and algorithm not in first:
                first.append(algorithm)
    return first + [a for a in supported if a not in first]
