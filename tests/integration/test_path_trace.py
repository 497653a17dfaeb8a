"""The path engine against the kernel's own trace, on the lab (root, lab lock).

For each case the test sends ONE real packet with netfilter tracing on (a TRACE
rule in raw PREROUTING or OUTPUT; ``xtables-monitor --trace`` for iptables-nft,
the kernel log for iptables-legacy: see kernel_trace.py) and checks that

* the engine's rules that matched, hook by hook, and the chain policies that
  decided are the trace's, in the same order (rule text for iptables-nft, rule
  position for legacy);
* its route hops name the gateway and device ``ip route get`` gives in that
  namespace (``nsenter -t PID -n`` for a container);
* the counters of the rules it says decided moved.

The engine reads a snapshot collected while the TRACE rule is in place, so both
see that rule too. Backend-agnostic: it traces whichever iptables backend
Docker's chains are in, so .ci/run's legacy pass runs every case on legacy.
Everything a case adds (containers, networks, rules, sysctls) is removed or
restored, also on failure. Traffic goes only to the lab's containers, the host's
own addresses and the nx-inet netns (203.0.113.1 after checking its /32 route).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from netexplorer.collect.snapshot import collect_snapshot
from netexplorer.correlate import correlate
from netexplorer.model import Rule, Snapshot
from netexplorer.path import PathResult, trace_path

from . import groundtruth as gt
from .kernel_trace import Event, Trace, assert_same_events, connect_script, iptables_trace

pytestmark = pytest.mark.integration

RECORDER = Path(__file__).resolve().parents[1] / "recorded" / "path" / "record.py"
INET = gt.INET_ADDR


def _recorder() -> Any:
    spec = importlib.util.spec_from_file_location("path_record", RECORDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_host() -> Snapshot:
    """A snapshot of the host now; routes from ``ip -j`` if this netexplorer reads none."""
    snap = collect_snapshot()
    if not snap.routes:
        from netexplorer.snapshot_io import snapshot_from_dict, snapshot_to_dict

        rec = _recorder()
        doc = snapshot_to_dict(snap)
        doc["routes"], doc["ip_rules"] = rec.routes(), rec.ip_rules()
        for ct in doc["containers"]:
            if ct.get("pid") and ct["state"] == "running" and ct["network_mode"] != "host":
                ct["inside"] = {
                    "interfaces": rec.interfaces(ct["pid"]),
                    "routes": rec.routes(ct["pid"]),
                    "ip_rules": rec.ip_rules(ct["pid"]),
                    "error": None,
                }
        snap = snapshot_from_dict(doc)
    return snap


def docker_backend() -> str:
    """The iptables backend holding Docker's chains now."""
    if gt.docker_chains("nft"):
        return "iptables-nft"
    if gt.docker_chains("legacy"):
        return "iptables-legacy"
    pytest.fail("Docker's chains are in neither iptables backend")


@pytest.fixture
def backend(lab: str) -> str:
    route = gt.route_get(INET)
    assert route.get("dev") == gt.INET_HOST_IF, f"{INET} must route to nx-inet0, not {route}"
    assert not any(
        r.get("dst") in ("203.0.113.0/24",) for r in json.loads(gt.run("ip", "-j", "route"))
    ), "a route wider than 203.0.113.1/32 would send traffic off the machine"
    return docker_backend()


# ------------------------------------------------------------------ comparing
def engine_events(snap: Snapshot, result: PathResult, backend: str) -> list[Event]:
    """The engine's hook hops as the backend's trace shows them.

    iptables-nft (xtables-monitor): each rule that matched, then the policy if it
    decided. iptables-legacy (TRACE through nf_log): rules by position; the TRACE
    rule itself is not logged (the packet is marked by it), an unconditional
    ``-j RETURN`` and falling off a user chain's end are ``return`` events (the
    latter numbered one past the chain's last rule), then the policy.
    """
    by_key: dict[str, Rule] = {r.key: r for r in snap.rules}
    legacy = backend == "iptables-legacy"
    out: list[Event] = []
    for hop in result.hops:
        if not hop.chain.startswith(backend + " "):
            continue
        _, _, table, chain = hop.chain.split(" ", 3)
        ends = list(hop.ends)
        for n, key in enumerate(hop.trail):
            while legacy and ends and ends[0][0] == n:
                _, end_chain, count = ends.pop(0)
                out.append(Event(table, end_chain, "return", str(count + 1), ""))
            rule = by_key[key]
            if not legacy:
                out.append(Event(rule.table, rule.chain, "rule", rule.text, ""))
            elif rule.target == "TRACE":
                continue
            elif rule.text == f"-A {rule.chain} -j RETURN":
                out.append(Event(rule.table, rule.chain, "return", str(rule.position), ""))
            else:
                out.append(Event(rule.table, rule.chain, "rule", str(rule.position), ""))
        for _, end_chain, count in ends if legacy else ():
            out.append(Event(table, end_chain, "return", str(count + 1), ""))
        if hop.kind == "policy":
            out.append(Event(table, chain, "policy", "", "" if legacy else hop.verdict or ""))
    return out


def trace_events(trace: Trace, backend: str) -> list[Event]:
    legacy = backend == "iptables-legacy"
    out = []
    for e in trace.events:
        if e.kind == "rule" or (legacy and e.kind == "return"):
            out.append(Event(e.table, e.chain, e.kind, e.rule, ""))
        elif e.kind == "policy":
            out.append(Event(e.table, e.chain, "policy", "", "" if legacy else e.verdict))
    return out


def _route_words(text: str) -> dict[str, str]:
    words = text.split()
    return {w: words[i + 1] for i, w in enumerate(words[:-1]) if w in ("via", "dev")}


def check_routes(snap: Snapshot, result: PathResult) -> None:
    """Each route hop's gateway and device are those of ``ip route get`` in that netns."""
    pids = {c.name: c.pid for c in snap.containers}
    for hop in (*result.hops, *result.reply):
        if hop.kind != "route" or ": " not in hop.title:
            continue
        where, decision = hop.title.split(": ", 1)
        words = decision.removesuffix(": no route").split()
        dst = words[1] if decision.startswith("local ") else words[0]
        if where.startswith("route in "):
            pid = pids[where.removeprefix("route in ")]
            cmd = ["nsenter", "-t", str(pid), "-n", "ip", "route", "get", dst]
        elif where.startswith("route on the host") or where.startswith("rerouted"):
            cmd = ["ip", "route", "get", dst]
        else:
            continue
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if "no route" in decision:
            assert proc.returncode != 0, f"{cmd}: {proc.stdout}"
            continue
        assert proc.returncode == 0, f"{cmd}: {proc.stderr}"
        truth = _route_words(proc.stdout)
        mine = _route_words(decision)
        if truth.get("dev") == "lo" or decision.startswith("local "):
            assert decision.startswith("local ") and proc.stdout.startswith("local "), (
                hop.title,
                proc.stdout,
            )
            continue
        assert mine == truth, f"{hop.title} but {' '.join(cmd)}: {proc.stdout.strip()}"


def check_counters(before: Snapshot, after: Snapshot, result: PathResult) -> None:
    counts = {r.id: r.packets for r in after.rules}
    for hop in result.hops:
        if hop.kind in ("rule", "nat") and hop.rule is not None:
            rule = next(r for r in before.rules if r.key == hop.rule)
            assert counts.get(rule.id, 0) - rule.packets >= 1, (
                f"counter of {rule.text} did not move"
            )


def run_case(
    backend: str,
    src: str,
    dst: str,
    send: Callable[[], None],
    match: list[str],
    verdict: str,
    hook: str = "PREROUTING",
    proto: str = "icmp",
    port: int | None = None,
    family: int = 4,
) -> PathResult:
    """Trace one packet sent by ``send`` and compare with the engine's path."""
    with iptables_trace(backend, family, hook, match) as trace:
        before = read_host()
        result = trace_path(before, correlate(before), src, dst, proto, port)
        send()
    after = read_host()
    assert result.verdict == verdict, (
        result.sentence + "\n" + "\n".join(h.title for h in result.hops)
    )
    mine, theirs = engine_events(before, result, backend), trace_events(trace, backend)
    if backend == "iptables-nft":
        # iptables-nft registers a built-in chain only once something uses it, and
        # iptables-nft-save lists them all: an empty one with policy ACCEPT (which
        # changes nothing) may or may not be traversed, so it is left out of both
        used = {(r.table, r.chain) for r in before.rules if r.backend == backend}
        mine = [e for e in mine if e.kind != "policy" or (e.table, e.chain) in used]
        theirs = [e for e in theirs if e.kind != "policy" or (e.table, e.chain) in used]
    hops = "\n".join(f"{h.title} [{h.detail}]" for h in result.hops)
    assert_same_events(mine, theirs, trace.raw, hops)
    check_routes(before, result)
    check_counters(before, after, result)
    return result


def ping(container: str, address: str, six: bool = False) -> Callable[[], None]:
    """One echo request from ``container`` (busybox ping in the lab's image)."""
    flag = ["-6"] if six else []

    def send() -> None:
        gt.run(
            "docker", "exec", container, "ping", *flag, "-c", "1", "-W", "1", address, check=False
        )

    return send


def ip_of(container: str, network: str = "bridge", six: bool = False) -> str:
    nets = gt.docker_inspect(container)["NetworkSettings"]["Networks"]
    value: str = nets[network]["GlobalIPv6Address" if six else "IPAddress"]
    return value


@contextmanager
def network(*args: str) -> Iterator[str]:
    name = f"{gt.THROWAWAY_PREFIX}{uuid.uuid4().hex[:8]}"
    gt.run("docker", "network", "create", *args, name)
    try:
        yield name
    finally:
        gt.run("docker", "network", "rm", name, check=False)


@contextmanager
def containers(net: str, count: int, extra: tuple[str, ...] = ()) -> Iterator[list[str]]:
    names = [gt.new_throwaway_name() for _ in range(count)]
    try:
        for name in names:
            gt.create_container(name, (net,), extra)
        yield names
    finally:
        for name in names:
            gt.remove_container(name)


# ------------------------------------------------------------------ cases
def test_test1_to_test2_same_bridge(backend: str) -> None:
    t1, t2 = ip_of("test1"), ip_of("test2")
    r = run_case(
        backend,
        "test1",
        "test2",
        ping("test1", t2),
        ["-s", t1, "-d", t2, "-p", "icmp"],
        "delivered",
    )
    assert any("bridged (L2)" in h.title for h in r.hops)


def ping_test1_to_the_internet(backend: str, verdict: str) -> PathResult:
    """One ping from test1 to the lab's internet address, traced."""
    t1 = ip_of("test1")
    return run_case(
        backend, "test1", INET, ping("test1", INET), ["-s", t1, "-d", INET, "-p", "icmp"], verdict
    )


def test_test1_to_the_internet_through_masquerade(backend: str) -> None:
    r = ping_test1_to_the_internet(backend, "delivered")
    assert any(h.kind == "nat" and "MASQUERADE" in h.title for h in r.hops)
    assert r.hops[-1].title.startswith(
        f"leaves the host on {gt.INET_HOST_IF} via {gt.INET_NETNS_ADDR} as icmp {gt.INET_HOST_ADDR}"
    )


def _connect(netns: str | None, address: str, port: int) -> Callable[[], None]:
    argv = ["python3", "-c", connect_script(address, port)]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]

    def send() -> None:
        gt.run(*argv, check=False)

    return send


def test_outside_to_published_port_through_dnat(backend: str) -> None:
    port = gt.WEB_HOST_PORT
    r = run_case(
        backend,
        gt.INET_NETNS_ADDR,
        f"host:{port}",
        _connect(gt.INET_NETNS, gt.INET_HOST_ADDR, port),
        ["-s", gt.INET_NETNS_ADDR, "-p", "tcp", "--dport", str(port), "--syn"],
        "delivered",
        proto="tcp",
    )
    assert any(h.kind == "nat" and "DNAT" in h.title for h in r.hops)
    assert r.hops[-1].title.startswith("delivered to web")


def test_test1_to_db_on_another_bridge_is_isolated(backend: str) -> None:
    t1, db = ip_of("test1"), ip_of("db", gt.LAB_NETWORK)
    r = run_case(
        backend, "test1", "db", ping("test1", db), ["-s", t1, "-d", db, "-p", "icmp"], "dropped"
    )
    assert "DOCKER-ISOLATION-STAGE-2" in r.sentence


def test_internal_network_to_the_internet(backend: str) -> None:
    with network("--internal") as net, containers(net, 1) as (c,):
        addr = ip_of(c, net)
        r = run_case(backend, c, "internet", ping(c, INET), ["-s", addr, "-p", "icmp"], "internal")
    assert "--internal network" in r.sentence


def test_icc_false_drops_on_the_bridge(backend: str) -> None:
    with (
        network("-o", "com.docker.network.bridge.enable_icc=false") as net,
        containers(net, 2) as (a, b),
    ):
        ia, ib = ip_of(a, net), ip_of(b, net)
        r = run_case(backend, a, b, ping(a, ib), ["-s", ia, "-d", ib, "-p", "icmp"], "dropped")
    assert any("bridge-nf-call-iptables=1" in h.title for h in r.hops)


@contextmanager
def sysctl(name: str, value: str) -> Iterator[None]:
    path = Path("/proc/sys") / name.replace(".", "/")
    before = path.read_text().strip()
    path.write_text(value)
    try:
        yield
    finally:
        path.write_text(before)


def test_ip_forward_off(backend: str) -> None:
    with sysctl("net.ipv4.ip_forward", "0"):
        ping_test1_to_the_internet(backend, "forwarding-disabled")
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1"


def test_a_drop_in_docker_user(backend: str) -> None:
    t1 = ip_of("test1")
    tool = f"iptables-{backend.removeprefix('iptables-')}"
    rule = ["DOCKER-USER", "-s", t1, "-d", INET, "-p", "icmp", "-j", "DROP"]
    gt.run(tool, "-I", *rule)
    try:
        r = ping_test1_to_the_internet(backend, "dropped")
    finally:
        gt.run(tool, "-D", *rule, check=False)
    assert "DOCKER-USER" in r.sentence


def test_container_to_the_hosts_own_published_port(backend: str) -> None:
    t1 = ip_of("test1")
    gw = gt.docker_inspect("test1")["NetworkSettings"]["Networks"]["bridge"]["Gateway"]
    port = gt.WEB_HOST_PORT

    def send() -> None:
        nc = f"echo | nc -w 1 {gw} {port}"
        gt.run("docker", "exec", "test1", "sh", "-c", nc, check=False)

    r = run_case(
        backend,
        "test1",
        f"host:{port}",
        send,
        ["-s", t1, "-d", gw, "-p", "tcp", "--dport", str(port), "--syn"],
        "delivered",
        proto="tcp",
    )
    assert "docker-proxy" in r.hops[-1].title


def test_host_network_container(backend: str) -> None:
    name = gt.new_throwaway_name()
    try:
        gt.create_container(name, ("host",))
        r = run_case(
            backend,
            name,
            INET,
            ping(name, INET),
            ["-d", INET, "-p", "icmp"],
            "delivered",
            hook="OUTPUT",
        )
    finally:
        gt.remove_container(name)
    assert r.hops[0].title.startswith("route on the host")


def test_ipv6_pair(backend: str) -> None:
    subnet = f"fd00:{uuid.uuid4().hex[:4]}:7e57::/64"
    with network("--ipv6", "--subnet", subnet) as net, containers(net, 2) as (a, b):
        ia, ib = ip_of(a, net, six=True), ip_of(b, net, six=True)
        assert ipaddress.ip_address(ib).version == 6
        r = run_case(
            backend,
            a,
            ib,
            ping(a, ib, six=True),
            ["-s", ia, "-d", ib, "-p", "ipv6-icmp"],
            "delivered",
            family=6,
        )
    assert any("bridge-nf-call-ip6tables" in h.title for h in r.hops)
