"""Scratch network namespaces for firewall tests: rules are loaded there, never on the host.

Each namespace has lo up and a veth with a local, non-loopback address (10.99.0.1)
so that nat OUTPUT rules see traffic; it is deleted after the test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


#: local traffic inside a scratch netns: UDP to its non-loopback address (nat OUTPUT
#: counts it) and a TCP connect to port 8080 there (a Docker DNAT rule's port)
def local_traffic(address: str, tcp_port: int) -> str:
    """A Python script for ``sh(ns, sys.executable, "-c", ...)``: 3 UDP datagrams to
    ``address``:9 and one TCP connect to ``address``:``tcp_port``, all local to the
    netns (the veth's own address), to move some rules' counters."""
    family = "AF_INET6" if ":" in address else "AF_INET"
    return (
        "import socket\n"
        "for _ in range(3):\n"
        f"    socket.socket(socket.{family}, socket.SOCK_DGRAM).sendto(b'x', ('{address}', 9))\n"
        f"s = socket.socket(socket.{family})\n"
        "s.settimeout(0.5)\n"
        "try:\n"
        f"    s.connect(('{address}', {tcp_port}))\n"
        "except OSError:\n"
        "    pass\n"
    )


LOCAL_TRAFFIC = local_traffic("10.99.0.1", 8080)
#: an IPv6 address (documentation prefix) that :func:`add_addr6` puts on the veth
ADDR6 = "2001:db8:99::1"
#: the same over IPv6, to port 28080 (the fixtures' IPv6 DNAT port)
LOCAL_TRAFFIC6 = local_traffic(ADDR6, 28080)


def add_addr6(ns: str) -> None:
    """Give the netns' veth :data:`ADDR6` too, so ip6 nat OUTPUT sees traffic."""
    sh(ns, "ip", "-6", "addr", "add", f"{ADDR6}/64", "dev", "nxv0", "nodad")


def require_root_and_tools(module: str, tools: list[str], packages: str) -> None:
    """Fail (never skip): CI must run these."""
    if os.geteuid() != 0:
        pytest.fail(f"{module} must run as root (ip netns)")
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing tools {missing}: apt-get install {packages}")


def netns_fixture(prefix: str, tools: list[str], packages: str) -> Any:
    """A ``netns`` fixture for a test module: root and ``tools`` are checked (a
    failure, never a skip: CI must run these), then each test gets a fresh netns
    ``<prefix>-<hex>``. Use as ``netns = netns_fixture(...)`` at module level."""

    @pytest.fixture(name="netns")
    def _netns(request: pytest.FixtureRequest) -> Iterator[str]:
        require_root_and_tools(str(request.path.name), tools, packages)
        with scratch_netns(prefix) as name:
            yield name

    return _netns


def sh(ns: str, *cmd: str, stdin: str | None = None) -> str:
    """Run ``cmd`` inside netns ``ns``; its stdout (a failure fails the test)."""
    done = subprocess.run(
        ["ip", "netns", "exec", ns, *cmd], input=stdin, capture_output=True, text=True
    )
    assert done.returncode == 0, f"{cmd} in {ns} failed: {done.stderr}"
    return done.stdout


@contextmanager
def scratch_netns(prefix: str) -> Iterator[str]:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        sh(name, "ip", "link", "set", "lo", "up")
        sh(name, "ip", "link", "add", "nxv0", "type", "veth", "peer", "name", "nxv1")
        sh(name, "ip", "addr", "add", "10.99.0.1/24", "dev", "nxv0")
        sh(name, "ip", "link", "set", "nxv0", "up")
        sh(name, "ip", "link", "set", "nxv1", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def collect(ns: str) -> dict[str, Any]:
    """The firewall collector run inside ``ns``: its JSON output."""
    done = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-m", "netexplorer.collect.firewall"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data
