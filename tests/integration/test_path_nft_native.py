"""The path engine on Docker's native nftables layout, against ``nft monitor trace``.

Docker 20.10 cannot write the ``docker-bridges`` tables, so the recorded layout
(tests/recorded/nft-native/docker-bridges.nft) is loaded into scratch network
namespaces that stand in for a Docker 29 host (root, lab lock; everything is
deleted afterwards, also on failure):

* ``nxpn-h-*`` the "host": the ruleset, a bridge docker0 172.17.0.1/16,
  ip_forward on, nx-inet0 198.51.100.1/30 and a route 203.0.113.1/32 behind it;
* ``nxpn-c-*`` the "container": eth0 172.17.0.4/16 (the fixture's web, whose
  port 8080 is published) on docker0 through a veth, default via 172.17.0.1;
* ``nxpn-o-*`` the "internet": nx-inet1 198.51.100.2/30 and 203.0.113.1.

Packets go only between these namespaces. The engine reads the host namespace
with the product's own collectors run inside it (firewall, netlink) plus
``ip -j route`` there; the Docker side (the container and its network) is
described by the test, as there is no Docker 29 daemon to ask. For each case one
packet is traced (``meta nftrace set 1`` in a table of the test's own) and the
rules the engine says matched, hook by hook, must be those ``nft monitor trace``
reports, in the same order.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from netexplorer.collect.firewall.nft_parse import strip_counter
from netexplorer.correlate import correlate
from netexplorer.model import Container, Endpoint, Network, Snapshot, as_plain
from netexplorer.path import PathResult, trace_path
from netexplorer.snapshot_io import snapshot_from_dict

from .kernel_trace import Event, assert_same_events, connect_script, nft_trace
from .scratch_netns import bare_netns, collect, require_root_and_tools, sh

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "recorded" / "nft-native" / "docker-bridges.nft"
RECORDER = ROOT / "tests" / "recorded" / "path" / "record.py"
WEB = "172.17.0.4"


def ping(ns: str, address: str) -> list[str]:
    """The command sending one echo request from ``ns`` to ``address``."""
    return ["ip", "netns", "exec", ns, "busybox", "ping", "-c", "1", "-W", "1", address]


@pytest.fixture
def lab3() -> Iterator[tuple[str, str, str]]:
    require_root_and_tools(
        "test_path_nft_native.py", ["ip", "nft", "busybox"], "iproute2 nftables busybox-static"
    )
    with ExitStack() as stack:
        host = stack.enter_context(bare_netns("nxpn-h"))
        ct = stack.enter_context(bare_netns("nxpn-c"))
        out = stack.enter_context(bare_netns("nxpn-o"))
        sh(host, "nft", "-f", str(FIXTURE))
        sh(host, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        sh(host, "ip", "link", "add", "docker0", "type", "bridge")
        sh(host, "ip", "addr", "add", "172.17.0.1/16", "dev", "docker0")
        sh(host, "ip", "link", "set", "docker0", "up")
        sh(
            host,
            "ip",
            "link",
            "add",
            "vethweb",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            ct,
        )
        sh(host, "ip", "link", "set", "vethweb", "master", "docker0", "up")
        sh(ct, "ip", "addr", "add", f"{WEB}/16", "dev", "eth0")
        sh(ct, "ip", "link", "set", "eth0", "up")
        sh(ct, "ip", "route", "add", "default", "via", "172.17.0.1")
        sh(
            host,
            "ip",
            "link",
            "add",
            "nx-inet0",
            "type",
            "veth",
            "peer",
            "name",
            "nx-inet1",
            "netns",
            out,
        )
        sh(host, "ip", "addr", "add", "198.51.100.1/30", "dev", "nx-inet0")
        sh(host, "ip", "link", "set", "nx-inet0", "up")
        sh(host, "ip", "route", "add", "203.0.113.1/32", "via", "198.51.100.2")
        sh(out, "ip", "addr", "add", "198.51.100.2/30", "dev", "nx-inet1")
        sh(out, "ip", "addr", "add", "203.0.113.1/32", "dev", "lo")
        sh(out, "ip", "link", "set", "nx-inet1", "up")
        sh(out, "ip", "route", "add", "default", "via", "198.51.100.1")
        yield host, ct, out


def _recorder_json(ns: str, func: str, *args: str) -> list[dict[str, object]]:
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('r', {str(RECORDER)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        f"print(json.dumps(m.{func}({', '.join(args)})))\n"
    )
    data: list[dict[str, object]] = json.loads(sh(ns, sys.executable, "-c", code))
    return data


def read_scratch(host: str, ct: str) -> Snapshot:
    """The host namespace read by the product's collectors, plus the container's view."""
    fw = collect(host)
    code = (
        "import json\n"
        "from netexplorer.collect.netlink_source import collect_netlink\n"
        "from netexplorer.model import as_plain\n"
        "print(json.dumps(as_plain(collect_netlink())))\n"
    )
    done = subprocess.run(
        ["ip", "netns", "exec", host, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    links = json.loads(done.stdout)
    veth = next(i for i in links["interfaces"] if i["name"] == "vethweb")
    network = Network(
        "n0",
        "bridge",
        "bridge",
        bridge="docker0",
        subnets=["172.17.0.0/16"],
        gateways=["172.17.0.1"],
    )
    web = Container(
        "c" * 64,
        "web",
        "busybox",
        "running",
        "bridge",
        netnsid=veth["link_netnsid"],
        endpoints=[
            Endpoint(
                "c" * 64, "web", "bridge", "n0", ipv4=WEB, ipv4_prefixlen=16, gateway="172.17.0.1"
            )
        ],
    )
    doc = {
        "schema": 1,
        "host": host,
        "networks": [as_plain(network)],
        "containers": [as_plain(web)],
        "interfaces": links["interfaces"],
        "bridges": links["bridges"],
        "rules": fw["rules"],
        "chains": fw["chains"],
        "firewall_backends": ["nftables"],
        "sysctls": {"net.ipv4.ip_forward": sh(host, "sysctl", "-n", "net.ipv4.ip_forward").strip()},
        "routes": _recorder_json(host, "routes"),
        "ip_rules": _recorder_json(host, "ip_rules"),
    }
    doc["containers"][0]["inside"] = {
        "interfaces": _recorder_json(ct, "interfaces_here"),
        "routes": _recorder_json(ct, "routes"),
        "ip_rules": _recorder_json(ct, "ip_rules"),
        "error": None,
    }
    return snapshot_from_dict(doc)


def engine_events(snap: Snapshot, result: PathResult) -> list[Event]:
    by_key = {r.key: r for r in snap.rules}
    out = []
    for hop in result.hops:
        if not hop.chain.startswith("nftables "):
            continue
        _, _, table, chain = hop.chain.split(" ", 3)
        for key in hop.trail:
            rule = by_key[key]
            out.append(Event(rule.table, rule.chain, "rule", rule.text, ""))
        if hop.kind == "policy":
            out.append(Event(table, chain, "policy", "", hop.verdict or ""))
    return out


def trace_events(events: list[Event]) -> list[Event]:
    out = []
    for e in events:
        if e.kind == "rule":
            out.append(Event(e.table, e.chain, "rule", strip_counter(e.rule), ""))
        elif e.kind == "policy":
            out.append(Event(e.table, e.chain, "policy", "", e.verdict))
    return out


def run_case(
    host: str,
    ct: str,
    src: str,
    dst: str,
    match: str,
    send: list[str],
    verdict: str,
    proto: str = "icmp",
) -> PathResult:
    snap = read_scratch(host, ct)
    result = trace_path(snap, correlate(snap), src, dst, proto)
    with nft_trace(host, "ip", match) as trace:
        subprocess.run(send, capture_output=True, check=False)
    assert result.verdict == verdict, (
        result.sentence + "\n" + "\n".join(h.title for h in result.hops)
    )
    assert_same_events(engine_events(snap, result), trace_events(trace.events), trace.raw)
    return result


def test_container_to_the_internet_masqueraded(lab3: tuple[str, str, str]) -> None:
    host, ct, _ = lab3
    r = run_case(
        host,
        ct,
        "web",
        "203.0.113.1",
        f"ip saddr {WEB} ip protocol icmp",
        ping(ct, "203.0.113.1"),
        "delivered",
    )
    assert any('masquerade comment "MASQUERADE"' in h.title for h in r.hops)


def test_outside_to_published_port_dnat(lab3: tuple[str, str, str]) -> None:
    host, ct, out = lab3
    r = run_case(
        host,
        ct,
        "198.51.100.2",
        "198.51.100.1:8080",
        "ip saddr 198.51.100.2 tcp flags syn",
        ["ip", "netns", "exec", out, "python3", "-c", connect_script("198.51.100.1", 8080)],
        "delivered",
        proto="tcp",
    )
    assert r.hops[-1].title.startswith("delivered to web")


def test_direct_access_to_the_container_is_dropped_in_raw(lab3: tuple[str, str, str]) -> None:
    host, ct, out = lab3
    r = run_case(
        host,
        ct,
        "198.51.100.2",
        WEB,
        "ip saddr 198.51.100.2 ip protocol icmp",
        ping(out, WEB),
        "dropped",
    )
    assert "DROP DIRECT ACCESS" in r.sentence
