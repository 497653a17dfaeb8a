"""A throwaway sshd on 127.0.0.1 (or another address, in another network namespace)
for the remote tests and the remote benchmark.

It runs the system's ``/usr/sbin/sshd`` (package openssh-server; ``scripts/lab
deps`` installs it) in the foreground with its own config, host key, client keys
and authorized_keys in a private temporary directory, on a free port. Each client
key is authorized with the PATH its sessions get (``environment="PATH=…"``), so a
key can stand for "netexplorer installed" or "netexplorer not in the PATH". The
client side is an ``ssh -F`` config (known_hosts holding the host key) passed to
netexplorer as ``NETEXPLORER_SSH``, and for the "good" key the agent's full path as
``NETEXPLORER_REMOTE`` (a login's shell rc may put another netexplorer first).
:meth:`ThrowawaySshd.close` stops the daemon and every session it started and
removes the directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

SSHD = "/usr/sbin/sshd"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def keygen(path: Path) -> str:
    """Make an ed25519 key pair at ``path``; return the public key line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return path.with_suffix(".pub").read_text().strip()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc), deepest last."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


class ThrowawaySshd:
    """See the module docstring. Root only (sshd must switch users)."""

    def __init__(
        self,
        agent_path: str | None = None,
        listen: str = "127.0.0.1",
        netns: str | None = None,
        session_env: dict[str, str] | None = None,
    ) -> None:
        """``listen``: the address sshd listens on; ``netns``: a network namespace file
        it runs in (``nsenter --net``), so its sessions read that namespace;
        ``session_env``: variables the "good" key's sessions get besides PATH."""
        self.listen = listen
        self.netns = netns
        self.session_env = dict(session_env or {})
        self.dir = Path(tempfile.mkdtemp(prefix="nx-sshd-"))
        # sshd reads authorized_keys as the user logging in (a test user too): the
        # directory is searchable and that file readable; the private keys stay 0600
        self.dir.chmod(0o711)
        self.port = free_port()
        #: the directory holding the ``netexplorer`` this interpreter runs
        self.agent_path = agent_path or str(Path(sys.executable).parent)
        self.proc: subprocess.Popen[bytes] | None = None
        self.host_key = keygen(self.dir / "host_key")
        self._authorized: list[str] = []
        self.key("good", f"{self.agent_path}:{SYSTEM_PATH}", self.session_env)
        self.key("bare", SYSTEM_PATH)
        keygen(self.dir / "stranger")  # a key the server does not know
        (self.dir / "known_hosts").write_text(
            f"[{listen}]:{self.port} {self.host_key}\n[localhost]:{self.port} {self.host_key}\n"
        )
        (self.dir / "sshd_config").write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    f"ListenAddress {listen}",
                    f"HostKey {self.dir / 'host_key'}",
                    f"PidFile {self.dir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
                    "StrictModes no",
                    "UsePAM no",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "PermitUserEnvironment " + ",".join(["PATH", *self.session_env]),
                    "MaxStartups 100",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )

    def key(self, name: str, path: str, env: dict[str, str] | None = None) -> Path:
        """A client key ``name`` whose sessions get PATH=``path`` (and ``env``)."""
        pub = keygen(self.dir / name)
        options = ",".join(
            f'environment="{k}={v}"' for k, v in {"PATH": path, **(env or {})}.items()
        )
        self._authorized.append(f"{options} {pub}")
        (self.dir / "authorized_keys").write_text("\n".join(self._authorized) + "\n")
        (self.dir / "authorized_keys").chmod(0o644)
        return self.dir / name

    def ssh_command(self, key: str = "good", aliases: Mapping[str, str] | None = None) -> str:
        """``NETEXPLORER_SSH`` for a client using key ``key`` (good, bare, stranger, or
        one made by :meth:`key`); ``aliases`` names hosts (``older.nx``) that reach this
        sshd with another key, so one command can read "hosts" that differ."""
        config = self.dir / f"ssh_config_{key}_{len(aliases or ())}"
        lines: list[str] = []
        for alias, alias_key in (aliases or {}).items():
            lines += [
                f"Host {alias}",
                "  HostName 127.0.0.1",
                f"  IdentityFile {self.dir / alias_key}",
            ]
        lines += [
            "Host *",
            f"  IdentityFile {self.dir / key}",
            "  IdentitiesOnly yes",
            "  IdentityAgent none",
            f"  UserKnownHostsFile {self.dir / 'known_hosts'}",
            "  StrictHostKeyChecking yes",
            "  LogLevel ERROR",
            "",
        ]
        config.write_text("\n".join(lines))
        return f"ssh -F {config}"

    def env(self, key: str = "good") -> dict[str, str]:
        """The environment variables netexplorer needs to use key ``key`` here."""
        env = {"NETEXPLORER_SSH": self.ssh_command(key)}
        if key == "good":
            env["NETEXPLORER_REMOTE"] = str(Path(self.agent_path) / "netexplorer")
        return env

    def url(self, user: str = "root") -> str:
        return f"ssh://{user}@{self.listen}:{self.port}"

    def start(self) -> ThrowawaySshd:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privsep directory
        prefix = ["nsenter", f"--net={self.netns}"] if self.netns else []
        self.proc = subprocess.Popen(
            [
                *prefix,
                SSHD,
                "-D",
                "-f",
                str(self.dir / "sshd_config"),
                "-E",
                str(self.dir / "sshd.log"),
            ],
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited {self.proc.returncode}: {self.log()}")
            try:
                socket.create_connection((self.listen, self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not listen on port {self.port}: {self.log()}")

    def stop(self) -> None:
        """Stop sshd and cut every session it holds (the connections drop)."""
        if self.proc is None:
            return
        for pid in [self.proc.pid, *descendants(self.proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def log(self) -> str:
        try:
            return (self.dir / "sshd.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> ThrowawaySshd:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
