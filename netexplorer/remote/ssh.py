"""The system ``ssh`` client running ``netexplorer agent`` on a remote host.

``ssh`` is run with ``BatchMode=yes``: ~/.ssh/config, the agent, ProxyJump and
known_hosts work as for the user's own ssh, and no password or passphrase is ever
asked for (netexplorer never handles one). ``NETEXPLORER_SSH`` replaces the
``ssh`` command (e.g. ``ssh -F ./ssh_config``), as ``GIT_SSH_COMMAND`` does for git;
``NETEXPLORER_REMOTE`` replaces ``netexplorer`` on the remote (e.g. the full path of
a virtualenv's, when the remote shell's PATH does not hold it).

When the session ends before the agent spoke, :func:`explain` names the cause
from ssh's exit status and its stderr, with the fix.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
from collections.abc import Mapping
from typing import IO

from netexplorer.literal import escape_controls
from netexplorer.remote.target import Target

INSTALL = "pip install netexplorer"
#: how much of ssh's stderr is kept (the end of it holds the reason)
_STDERR_KEEP = 8192

_SSH_OPTIONS = (
    "-T",
    "-o",
    "BatchMode=yes",
    "-o",
    "ConnectTimeout=10",
    "-o",
    "ServerAliveInterval=5",
    "-o",
    "ServerAliveCountMax=2",
)


def ssh_base(env: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    return shlex.split(env.get("NETEXPLORER_SSH") or "ssh")


def remote_program(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("NETEXPLORER_REMOTE") or "netexplorer"


def remote_command(sudo: bool, interval: float, once: bool, program: str = "netexplorer") -> str:
    """The command line the remote shell runs.

    Under sudo, netexplorer is looked up in the user's PATH first: sudo's
    ``secure_path`` rarely holds a pip or pipx install directory.
    """
    args = ["--interval", f"{interval:g}", "agent", *(["--once"] if once else [])]
    if not sudo:
        return shlex.join([program, *args])
    return (
        f"p=$(command -v {shlex.quote(program)}) || "
        "{ echo 'netexplorer: command not found' >&2; exit 127; }"
        f'; exec sudo -n -- "$p" {shlex.join(args)}'
    )


def ssh_command(
    target: Target,
    sudo: bool = False,
    interval: float = 2.0,
    once: bool = False,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    cmd = [*ssh_base(env), *_SSH_OPTIONS]
    if target.port:
        cmd += ["-p", str(target.port)]
    if target.user:
        cmd += ["-l", target.user]
    return [*cmd, "--", target.host, remote_command(sudo, interval, once, remote_program(env))]


def explain(target: Target, returncode: int | None, stderr: str, sudo: bool) -> str:
    """Why a session ended before (or without) the agent speaking, and the fix."""
    host = target.label
    err = stderr.lower()
    last = escape_controls(" ".join(stderr.strip().splitlines()[-2:]))[:300]
    if "permission denied" in err and ("publickey" in err or "password" in err):
        return (
            f"{host}: authentication refused (no key of yours is accepted; netexplorer "
            f"never asks for a password). Add your key to {host}'s authorized_keys "
            f"(ssh-copy-id) or to your ssh-agent, then check with 'ssh {target.url} true'."
        )
    if "host key verification failed" in err or "remote host identification has changed" in err:
        return (
            f"{host}: its host key is not in your known_hosts (or changed). Connect once "
            f"with 'ssh {target.url}' to check and accept it."
        )
    if "could not resolve hostname" in err:
        return f"{host}: unreachable: the name does not resolve ({last}). Check the host name."
    unreachable = ("connection refused", "no route to host", "timed out", "network is unreachable")
    if any(u in err for u in unreachable) or ("connection closed by" in err and returncode == 255):
        return (
            f"{host}: unreachable ({last}). Check that the host is up and its sshd "
            f"listens, with 'ssh {target.url} true'."
        )
    if sudo and ("password is required" in err or "a terminal is required" in err):
        return (
            f"{host}: sudo asks for a password there, and netexplorer never types one. "
            f"Allow it without one (a sudoers line 'USER ALL=(root) NOPASSWD: "
            f"/path/to/netexplorer'), or connect as root."
        )
    if sudo and "sudo: " in err and "not found" in err and "netexplorer" not in err:
        return f"{host}: sudo is not installed there ({last}); connect as root instead."
    if returncode == 127 or ("netexplorer" in err and "not found" in err):
        return (
            f"{host}: netexplorer is not installed there (or not in the PATH of "
            f"non-interactive ssh sessions{' and of sudo' if sudo else ''}). Install it "
            f"on {host}: '{INSTALL}'."
        )
    if "invalid choice: 'agent'" in err or "unrecognized arguments" in err:
        return (
            f"{host}: its netexplorer is too old to have 'netexplorer agent'. Upgrade it "
            f"there: '{INSTALL} --upgrade'."
        )
    if returncode == 255:
        return f"{host}: ssh failed: {last or 'no message'}."
    code = "" if returncode is None else f" (exit {returncode})"
    return f"{host}: the agent ended{code}: {last or 'no message'}."


class SshProcess:
    """One ssh session: stdin/stdout are the channel, stderr kept for :func:`explain`."""

    def __init__(self, command: list[str]) -> None:
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C in the terminal is the app's, not ssh's
        )
        self._stderr = bytearray()
        self._stderr_done = threading.Thread(target=self._drain, daemon=True)
        self._stderr_done.start()
        self._write_lock = threading.Lock()

    def _drain(self) -> None:
        err = self.proc.stderr
        assert err is not None
        while chunk := os.read(err.fileno(), 4096):
            self._stderr += chunk
            del self._stderr[:-_STDERR_KEEP]

    def read(self) -> bytes:
        """The next bytes from the agent; b"" at the end of the session."""
        out = self.proc.stdout
        assert out is not None
        try:
            return os.read(out.fileno(), 65536)
        except (OSError, ValueError):
            return b""

    def write(self, data: bytes) -> bool:
        pipe: IO[bytes] | None = self.proc.stdin
        with self._write_lock:
            try:
                assert pipe is not None
                pipe.write(data)
                pipe.flush()
                return True
            except (OSError, ValueError):
                return False

    def stderr(self) -> str:
        self._stderr_done.join(timeout=2)
        return bytes(self._stderr).decode("utf-8", "replace")

    def close(self, wait: float = 3.0) -> int | None:
        """End the session: close the agent's stdin (it stops), then make sure."""
        with self._write_lock:
            try:
                if self.proc.stdin is not None:
                    self.proc.stdin.close()
            except OSError:
                pass
        try:
            return self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                return self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait()
