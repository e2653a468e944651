"""Real OpenSSH servers on loopback addresses, for the SSH tests and the fan-out benchmark.

One ``sshd`` accepts at most 16 ``ListenAddress`` entries, so a fleet of N hosts is served by
ceil(N / 16) processes that share one port, one host key and one authorized client key. Every
server logs at ``VERBOSE`` to its own file: one ``Connection from`` line per TCP connection,
which is how the tests count handshakes without trusting the client's own bookkeeping.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

SSHD = shutil.which("sshd", path="/usr/sbin:/usr/local/sbin:/sbin") or "/usr/sbin/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
#: the most ListenAddress lines OpenSSH's sshd accepts
MAX_LISTEN = 16


def addresses(count: int, *, first: int = 1) -> list[str]:
    """``127.0.1.<first>`` ... : every address in 127.0.0.0/8 is loopback on Linux, no setup."""
    return [f"127.0.1.{first + i}" for i in range(count)]


def wide_addresses(count: int) -> list[str]:
    """``127.1.0.1`` ... ``127.1.0.250``, ``127.1.1.1`` ...: room for fleets of thousands
    (``addresses`` stops at 254), 250 to a ``/24`` so the names read as counts."""
    return [f"127.1.{i // 250}.{i % 250 + 1}" for i in range(count)]


def free_port() -> int:
    """A port below the ephemeral range that nothing listens on, on any address."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket() as probe:
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port found")


def keygen(path: Path, kind: str = "ed25519") -> Path:
    for old in (path, path.with_suffix(".pub")):
        old.unlink(missing_ok=True)  # ssh-keygen asks before overwriting
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
    )
    return path


@dataclass
class Sshd:
    """One running ``sshd -D``."""

    addresses: list[str]
    port: int
    log: Path
    proc: subprocess.Popen[bytes]

    def connections(self) -> int:
        """TCP connections this server has accepted so far (``LogLevel VERBOSE`` lines)."""
        if not self.log.exists():
            return 0
        return self.log.read_text(errors="replace").count("Connection from ")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@dataclass
class Fleet:
    """Keys, known_hosts and the sshd processes serving a set of loopback addresses."""

    root: Path
    port: int = field(default_factory=free_port)
    servers: list[Sshd] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # sshd refuses to start without its privilege separation directory.
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        self.host_key = keygen(self.root / "host_ed25519")
        self.other_host_key = keygen(self.root / "other_host_ed25519")
        self.client_key = keygen(self.root / "client_ed25519")
        self.authorized_keys = self.root / "authorized_keys"
        shutil.copy(self.client_key.with_suffix(".pub"), self.authorized_keys)
        self.known_hosts = self.root / "known_hosts"
        self.known_hosts.write_text("")
        self.home = self.root / "home"
        self.home.mkdir(exist_ok=True)
        self._count = 0

    def public_host_key(self, *, other: bool = False) -> str:
        key = self.other_host_key if other else self.host_key
        kind, blob, *_ = key.with_suffix(".pub").read_text().split()
        return f"{kind} {blob}"

    def known_hosts_line(
        self, address: str, port: int | None = None, *, other: bool = False
    ) -> str:
        return f"[{address}]:{port or self.port} {self.public_host_key(other=other)}\n"

    def start(
        self,
        hosts: Sequence[str],
        *,
        port: int | None = None,
        log_level: str = "VERBOSE",
        extra: str = "",
        per_server: int = MAX_LISTEN,
    ) -> list[Sshd]:
        """Serve ``hosts``, ``per_server`` addresses per sshd (at most MAX_LISTEN); adds them
        to known_hosts."""
        if not 1 <= per_server <= MAX_LISTEN:
            raise ValueError(f"one sshd serves 1 to {MAX_LISTEN} addresses, not {per_server}")
        started: list[Sshd] = []
        port = port or self.port
        for i in range(0, len(hosts), per_server):
            chunk = list(hosts[i : i + per_server])
            started.append(self._start_one(chunk, port, log_level, extra))
        with self.known_hosts.open("a") as out:
            for address in hosts:
                out.write(self.known_hosts_line(address, port))
        for server in started:
            _wait_listening(server)
        self.servers.extend(started)
        return started

    def _start_one(self, chunk: list[str], port: int, log_level: str, extra: str) -> Sshd:
        self._count += 1
        name = f"sshd{self._count}"
        config = self.root / f"{name}.conf"
        log = self.root / f"{name}.log"
        log.unlink(missing_ok=True)  # sshd -E appends
        listen = "\n".join(f"ListenAddress {address}:{port}" for address in chunk)
        config.write_text(
            f"""{listen}
HostKey {self.host_key}
PidFile none
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile {self.authorized_keys}
LogLevel {log_level}
UseDNS no
# the fan-out opens many connections at once; the default 10:30:100 drops them at random
MaxStartups 1000
MaxSessions 64
Subsystem sftp {SFTP_SERVER}
# A clean HOME for the sessions: Debian's bash sources ~/.bashrc for every ssh command, and
# a developer's root .bashrc (pyenv init...) costs more than the rest of a session together.
SetEnv HOME={self.home}
{extra}
"""
        )
        proc = subprocess.Popen(
            [SSHD, "-D", "-f", str(config), "-E", str(log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        return Sshd(chunk, port, log, proc)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers.clear()

    def connections(self) -> int:
        return sum(server.connections() for server in self.servers)


def _wait_listening(server: Sshd, timeout: float = 10.0) -> None:
    give_up = time.monotonic() + timeout
    pending = list(server.addresses)
    while pending:
        if server.proc.poll() is not None:
            err = server.proc.stderr.read().decode() if server.proc.stderr else ""
            log = server.log.read_text() if server.log.exists() else ""
            raise RuntimeError(f"sshd exited with {server.proc.returncode}: {err}{log}")
        try:
            with socket.create_connection((pending[0], server.port), timeout=0.5):
                pending.pop(0)
        except OSError:
            if time.monotonic() > give_up:
                raise RuntimeError(f"sshd does not listen on {pending[0]}:{server.port}") from None
            time.sleep(0.02)


def running_as_root() -> bool:
    return os.geteuid() == 0
