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
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
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


def move_counters(ns: str, six: bool = False) -> None:
    """Send :data:`LOCAL_TRAFFIC` in ``ns`` (and :data:`LOCAL_TRAFFIC6`, when ``six``:
    the veth needs :func:`add_addr6` first), so that some rules count."""
    for script in (LOCAL_TRAFFIC, LOCAL_TRAFFIC6) if six else (LOCAL_TRAFFIC,):
        sh(ns, sys.executable, "-c", script)


def settle(read: Callable[[], object]) -> None:
    """Wait (up to 5 s) until two reads 0.1 s apart agree: counters stop moving (late
    packets, ICMP errors, IGMP/MLD reports count too), so that the collector and the
    listing tool see the same numbers."""
    before = read()
    for _ in range(50):
        time.sleep(0.1)
        now = read()
        if now == before:
            return
        before = now


#: family -> the iptables tool prefix
IPTABLES = {"ipv4": "iptables", "ipv6": "ip6tables"}


def save(ns: str, backend: str, family: str) -> str:
    """``ip{,6}tables-<backend>-save -c`` in ``ns`` (backend: nft or legacy)."""
    return sh(ns, f"{IPTABLES[family]}-{backend}-save", "-c")


def save_rules(text: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(rules, chains) of a ``-save -c`` text, in its order, split without
    netexplorer's parser: rules as (table, chain, position, text, packets, bytes),
    chains as (table, name, policy or None, packets, bytes)."""
    rules: list[tuple[Any, ...]] = []
    chains: list[tuple[Any, ...]] = []
    positions: Counter[tuple[str, str]] = Counter()
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":"):
            name, policy, counters = line[1:].split(" ")
            packets, nbytes = counters.strip("[]").split(":")
            chains.append(
                (table, name, None if policy == "-" else policy, int(packets), int(nbytes))
            )
        elif line.startswith("["):
            counters, rest = line.split(" ", 1)
            packets, nbytes = counters.strip("[]").split(":")
            chain = rest.split(" ")[1]
            positions[(table, chain)] += 1
            rules.append((table, chain, positions[(table, chain)], rest, int(packets), int(nbytes)))
    return rules, chains


def collected_rules(
    data: dict[str, Any], backend: str, family: str
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The collector's (rules, chains) of one iptables backend and family, in the
    form of :func:`save_rules`."""
    mine = (f"iptables-{backend}", family)
    rules = [
        (r["table"], r["chain"], r["position"], r["text"], r["packets"], r["bytes"])
        for r in data["rules"]
        if (r["backend"], r["family"]) == mine
    ]
    chains = [
        (c["table"], c["name"], c["policy"], c["packets"], c["bytes"])
        for c in data["chains"]
        if (c["backend"], c["family"]) == mine
    ]
    return rules, chains


def assert_counted_between(
    got: list[tuple[Any, ...]], low: list[tuple[Any, ...]], high: list[tuple[Any, ...]]
) -> None:
    """``got`` (rules or chains ending in packets, bytes) lists what ``low`` and
    ``high`` (two readings of the save tool, before and after) list, in the same
    places, with counters between theirs."""
    assert [g[:-2] for g in got] == [w[:-2] for w in low] == [w[:-2] for w in high]
    for g, lo, hi in zip(got, low, high, strict=True):
        assert lo[-2] <= g[-2] <= hi[-2] and lo[-1] <= g[-1] <= hi[-1], (g, lo, hi)


#: (rules, chains) of one family, as :func:`save_rules` or :func:`collected_rules` give them
Listing = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]


def collect_between(
    ns: str, families: Iterable[str], truth: Callable[[str], Listing]
) -> tuple[dict[str, Any], dict[str, Listing], dict[str, Listing]]:
    """The collector's read of ``ns`` between two readings of the save tool (``truth``
    of each family): (its JSON output, before, after). The read has no errors."""
    before = {family: truth(family) for family in families}
    data = collect(ns)
    after = {family: truth(family) for family in families}
    assert data["errors"] == {}
    return data, before, after


def assert_collected_between(got: Listing, before: Listing, after: Listing) -> None:
    """A family's collected rules and chains: as the save tool lists them before and
    after, in the same places, with counters between theirs (the kernel may still
    count a late IGMP/MLD report)."""
    for listed, low, high in zip(got, before, after, strict=True):
        assert_counted_between(listed, low, high)


def assert_read_alone(data: dict[str, Any], backend: str) -> None:
    """The collector read ``backend`` (nft or legacy) only, without the warning about
    Docker rules in both backends, and gave every rule its own id."""
    assert data["backends"] == [f"iptables-{backend}"]
    assert not [w for w in data["warnings"] if "both iptables backends" in w]
    ids = [r["id"] for r in data["rules"]]
    assert len(set(ids)) == len(ids)


def both_backends_warnings(data: dict[str, Any]) -> list[str]:
    """The collector read both iptables backends; its warnings about Docker rules in
    both (there must be one at least)."""
    assert data["backends"] == ["iptables-nft", "iptables-legacy"]
    warnings = [w for w in data["warnings"] if "both iptables backends" in w]
    assert warnings
    return warnings


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
def bare_netns(prefix: str) -> Iterator[str]:
    """A named netns ``<prefix>-<hex>`` with only lo (up); deleted afterwards."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        sh(name, "ip", "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@contextmanager
def scratch_netns(prefix: str) -> Iterator[str]:
    """:func:`bare_netns` with the veth nxv0 (10.99.0.1/24) and its peer nxv1, up."""
    with bare_netns(prefix) as name:
        sh(name, "ip", "link", "add", "nxv0", "type", "veth", "peer", "name", "nxv1")
        sh(name, "ip", "addr", "add", "10.99.0.1/24", "dev", "nxv0")
        sh(name, "ip", "link", "set", "nxv0", "up")
        sh(name, "ip", "link", "set", "nxv1", "up")
        yield name


#: ``ip`` commands giving a namespace routes and rules of every kind the model knows
ROUTING_SETUP = [
    "link set lo up",
    "link add d0 type veth peer name d1",
    "link set d0 up",
    "link set d1 up",
    "addr add 10.9.0.1/24 dev d0",
    "-6 addr add fd00:9::1/64 dev d0 nodad",
    "route add default via 10.9.0.254 dev d0 metric 50",
    "route add blackhole 10.66.0.0/16",
    "route add prohibit 10.67.0.0/16 table 300",
    "route add 10.77.0.0/16 via 10.9.0.2 table 100 proto static",
    "route add unreachable 10.88.0.0/16 table 200",
    "-6 route add default via fd00:9::fe dev d0",
    "route add 10.99.0.0/16 nexthop via 10.9.0.3 dev d0 nexthop via 10.9.0.4 dev d0",
    "rule add priority 100 from 10.9.0.0/24 to 10.77.0.0/16 fwmark 0x5/0xff iif lo table 100",
    "rule add priority 101 not to 10.88.0.0/16 oif d0 table 200",
    "rule add priority 102 blackhole from 10.1.0.0/16",
    "rule add priority 103 goto 32766",
    "rule add priority 104 fwmark 0x7 lookup 300",
    "-6 rule add priority 200 from fd00:9::/64 table 100",
]


def _run(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr}"
    return done.stdout


@contextmanager
def private_netns(commands: list[str]) -> Iterator[int]:
    """A namespace only a process of ours is in (``unshare --net``: no name, nothing
    on the host changes, gone with the process), set up with ``ip`` ``commands``;
    yields the pid of that process."""
    proc = subprocess.Popen(["unshare", "--net", "sleep", "600"])
    try:
        host_ns = os.readlink("/proc/self/ns/net")
        for _ in range(100):  # until unshare has entered its new namespace
            if os.readlink(f"/proc/{proc.pid}/ns/net") != host_ns:
                break
            time.sleep(0.05)
        for command in commands:
            _run("nsenter", "-t", str(proc.pid), "-n", "ip", *command.split())
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def ip_truth(pid: int | None = None, path: str | None = None) -> dict[str, Any]:
    """What ``ip`` says in the namespace of ``pid`` (or the one bound at ``path``, as
    Docker's are; the host's when neither), keyed as tests/recorded/netns records it:
    ``ip -j`` addresses, routes (every table) and rules per family, and the text of
    ``ip -4 route show table all`` and ``ip rule``."""
    prefix: tuple[str, ...] = ()
    if pid:
        prefix = ("nsenter", "-t", str(pid), "-n")
    elif path:
        prefix = ("nsenter", f"--net={path}")

    def ip(*args: str) -> Any:
        return json.loads(_run(*prefix, "ip", "-j", *args) or "[]")

    def text(*args: str) -> list[str]:
        return [" ".join(line.split()) for line in _run(*prefix, "ip", *args).splitlines()]

    return {
        "ip4_route_text": text("-4", "route", "show", "table", "all"),
        "ip_rule_text": text("-4", "rule") + text("-6", "rule"),
        "ip_addr": ip("addr"),
        "ip4_route": ip("-4", "route", "show", "table", "all"),
        "ip6_route": ip("-6", "route", "show", "table", "all"),
        "ip4_rule": ip("-4", "rule"),
        "ip6_rule": ip("-6", "rule"),
    }


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
