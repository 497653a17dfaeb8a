"""The path across a swarm overlay, on the recorded two-node swarm (tests/recorded/swarm),
checked against the ground truth recorded with it (``ip -j neigh``, ``bridge -j fdb``,
``ip -d -j link`` in the overlay namespaces, each container's eth0). The same paths
are checked on the live two-node lab in tests/integration/test_swarm.py."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from netexplorer.correlate import correlate
from netexplorer.model import Snapshot
from netexplorer.overlay_peers import HostRead, far_key
from netexplorer.path import PathResult, trace_path
from netexplorer.snapshot_io import load_snapshot

HERE = Path(__file__).resolve().parents[1] / "recorded" / "swarm"
TRUTH: dict[str, Any] = json.loads((HERE / "truth.json").read_text())
NODE_ADDR = {1: "198.51.100.17", 2: "198.51.100.18"}
UNDERLAY = {1: "nx-sw0", 2: "nx-sw1"}
CONTAINER = {1: ("sw1", "10.200.0.11"), 2: ("sw2", "10.200.0.12")}


def snapshot(node: int) -> Snapshot:
    return load_snapshot(HERE / f"node{node}.snapshot.json")


def path(
    snap: Snapshot, src: str, dst: str, proto: str = "icmp", port: int | None = None
) -> PathResult:
    return trace_path(snap, correlate(snap), src, dst, proto, port)


def truth_of(node: int) -> dict[str, Any]:
    entry: dict[str, Any] = TRUTH[f"node{node}"]["networks"]["nxoverlay"]
    return entry


def input_dropped(node: int) -> Snapshot:
    """The node's read with its filter INPUT policy DROP: the tunnel's UDP 4789 too."""
    snap = copy.deepcopy(snapshot(node))
    for chain in snap.chains:
        if chain.name == "INPUT" and chain.table == "filter":
            chain.policy = "DROP"
    return snap


def titles(hops: Any) -> list[str]:
    return [h.title for h in hops]


@pytest.mark.parametrize("node", [1, 2])
def test_to_the_container_on_the_other_node_through_the_tunnel(node: int) -> None:
    snap = snapshot(node)
    name, _ = CONTAINER[node]
    _, far_ip = CONTAINER[3 - node]
    res = path(snap, name, far_ip)
    assert res.verdict == "delivered", res.sentence
    truth = truth_of(node)
    mac = next(n["lladdr"] for n in truth["neigh"] if n["dst"] == far_ip)
    vtep = next(e["dst"] for e in truth["fdb"] if e["mac"] == mac and e.get("dst"))
    assert vtep == NODE_ADDR[3 - node]
    vxlan = next(x for x in truth["ip_link"] if x.get("linkinfo", {}).get("info_kind") == "vxlan")
    vni = vxlan["linkinfo"]["info_data"]["id"]
    eth0 = TRUTH["eth0"][name]
    port = next(x for x in truth["ip_link"] if x["ifindex"] == eth0["link_index"])
    kinds = [h.kind for h in res.hops]
    # in order: eth0 -> its veth on br0 -> vxlan (VNI, VTEP, UDP 4789) -> underlay
    veth = res.hops[kinds.index("veth")]
    assert f"eth0@if{port['ifindex']} of {name}" in veth.title
    assert f"{port['ifname']}@if{eth0['ifindex']} on br0 in {truth['namespace']}" in veth.title
    bridge = res.hops[kinds.index("bridge")]
    assert f"{far_ip} is {mac} (neighbour entry on vxlan0)" in bridge.title
    tunnel = res.hops[kinds.index("tunnel")]
    assert f"VNI {vni}" in tunnel.title and f"VTEP {vtep}" in tunnel.title
    assert f"UDP to {vtep}:{vxlan['linkinfo']['info_data']['port']}" in tunnel.title
    assert kinds.index("veth") < kinds.index("bridge") < kinds.index("tunnel")
    route = res.hops[kinds.index("tunnel") + 1]
    assert route.kind == "route" and f"dev {UNDERLAY[node]}" in route.title
    egress = next(h for h in res.hops if h.kind == "egress")
    assert egress.title.startswith(f"leaves the host on {UNDERLAY[node]} as udp {NODE_ADDR[node]}:")
    assert egress.title.endswith(f"-> {vtep}:4789")
    peer = next(p["Name"] for p in truth["inspect"]["Peers"] if p["IP"] == vtep)
    assert f"(node {peer})" in res.hops[-1].title and res.hops[-1].verdict == "delivered"
    # the reply: UDP to this node's 4789 through PREROUTING and INPUT, then the way in
    assert res.reply_verdict == "delivered"
    back = titles(res.reply)
    assert back[0] == (
        f"the reply arrives encapsulated from {vtep} on {UNDERLAY[node]} (UDP to port 4789)"
    )
    assert any(t.startswith("filter INPUT") for t in back)
    assert back[-1] == f"delivered to {name} ({CONTAINER[node][1]})"


def test_udp_4789_dropped_on_input_stops_the_reply() -> None:
    snap = input_dropped(1)
    res = path(snap, "sw1", "10.200.0.12")
    assert res.verdict == "delivered"
    assert res.reply_verdict == "dropped"
    assert "the tunnel's UDP packet from 198.51.100.18" in res.sentence


def test_a_peer_missing_from_the_fdb_drops_at_the_vxlan() -> None:
    snap = copy.deepcopy(snapshot(1))
    ns = next(n for n in snap.namespaces if n.name == truth_of(1)["namespace"])
    ns.fdb = [e for e in ns.fdb if e.dst is None]
    res = path(snap, "sw1", "10.200.0.12")
    assert res.verdict == "dropped"
    assert res.hops[-1].title == "vxlan0: no FDB entry names a VTEP for 02:42:0a:c8:00:0c"


def test_an_address_nobody_has_on_the_overlay() -> None:
    res = path(snapshot(1), "sw1", "10.200.0.99")
    assert res.verdict == "dropped"
    assert res.sentence.endswith(
        "nothing on overlay nxoverlay, here or on a peer node, is 10.200.0.99"
    )


def test_to_the_load_balancer_on_the_same_node_is_bridged_by_br0() -> None:
    snap = snapshot(1)
    # nxoverlay's load balancer (nxsecure, 10.201.0.0/24, has its own)
    lb, ip = next(
        (n, a.address)
        for n in snap.namespaces
        if n.kind == "lb"
        for i in n.interfaces
        for a in i.addresses
        if a.address.startswith("10.200.")
    )
    res = path(snap, "sw1", ip)
    assert res.verdict == "delivered" and res.reply_verdict == "delivered"
    assert f"bridged (L2) from veth1 to veth0 ({lb.name})" in res.hops[2].title
    assert titles(res.reply)[-1] == "delivered to sw1 (10.200.0.11)"


def test_to_the_internet_by_eth1_docker_gwbridge_and_masquerade() -> None:
    snap = snapshot(1)
    res = path(snap, "sw1", "internet")
    assert res.verdict == "delivered"
    veth = next(h for h in res.hops if h.kind == "veth")
    assert veth.title.startswith("eth1@if") and "a port of docker_gwbridge" in veth.title
    (nat,) = [h for h in res.hops if h.kind == "nat"]
    rule = next(r for r in snap.rules if r.key == nat.rule)
    gwbridge = next(n for n in snap.networks if n.name == "docker_gwbridge")
    assert rule.target == "MASQUERADE" and [rule.source] == gwbridge.subnets
    assert "! -o docker_gwbridge" in rule.text
    assert res.delivered_as is not None and res.delivered_as.src == "198.51.100.1"


def test_to_ingress_sbox_ends_at_ipvs_that_this_kernel_lacks() -> None:
    snap = snapshot(1)
    sbox = next(n for n in snap.namespaces if n.name == "ingress_sbox")
    assert sbox.ipvs is None  # recorded where /proc/net/ip_vs does not exist
    eth1 = next(i for i in sbox.interfaces if i.name == "eth1")
    addr = eth1.addresses[0].address
    res = path(snap, "host", f"{addr}:8081", "tcp")
    assert res.verdict == "uncertain"
    port = next(i for i in snap.interfaces if i.ifindex == eth1.link_ifindex)
    assert port.master == "docker_gwbridge"
    assert titles(res.hops)[-3:] == [
        f"docker_gwbridge: to ingress_sbox's port {port.name}",
        f"{port.name} -> veth pair -> eth1 of ingress_sbox ({addr})",
        "IPVS load balancing in ingress_sbox: not present on this kernel (no /proc/net/ip_vs "
        "there: the ip_vs module is missing), so the routing mesh cannot pass the packet to a task",
    ]
    # with a table that holds no service: nothing takes the packet. Docker wrote no
    # mangle MARK rule in ingress_sbox on this kernel (its rules were read: none
    # marks), so the packet is looked up with mark 0
    assert sbox.rules and not [r for r in sbox.rules if r.table == "mangle"]
    sbox.ipvs = "IP Virtual Server version 1.2.1 (size=4096)\n"
    res = path(snap, "host", f"{addr}:8081", "tcp")
    assert res.hops[-1].title.startswith(
        f"IPVS in ingress_sbox: no service takes tcp {addr}:8081 with mark 0x0"
    )


def host_read(node: int, snap: Snapshot | None = None) -> HostRead:
    snap = snap if snap is not None else snapshot(node)
    return HostRead(f"node{node}", snap, correlate(snap))


def far_path(node: int, far: Snapshot | None = None) -> PathResult:
    """From node's container to the other node's, with both nodes' reads open."""
    here = host_read(node)
    _, far_ip = CONTAINER[3 - node]
    return trace_path(
        here.read,
        here.correlation,
        CONTAINER[node][0],
        far_ip,
        others=[host_read(3 - node, far)],
    )


@pytest.mark.parametrize("node", [1, 2])
def test_with_both_nodes_open_the_path_goes_on_into_the_far_container(node: int) -> None:
    """Past the underlay: the far node's underlay interface, its INPUT, its vxlan of
    the same network (VNI), br0, the veth to the far container; the reply from there
    back through both nodes. Checked against the recorded truth of both nodes: the
    far namespace's ip -d link (vxlan, VNI), the far container's eth0 (its MAC and the
    veth its iflink names), this node's neighbour entry for the far address."""
    far = 3 - node
    far_name, far_ip = CONTAINER[far]
    res = far_path(node)
    assert res.verdict == "delivered" and res.reply_verdict == "delivered", res.sentence
    here_truth, far_truth = truth_of(node), truth_of(far)
    mac = next(n["lladdr"] for n in here_truth["neigh"] if n["dst"] == far_ip)
    far_eth0 = TRUTH["eth0"][far_name]
    assert far_eth0["address"] == mac
    vxlan = next(
        x for x in far_truth["ip_link"] if x.get("linkinfo", {}).get("info_kind") == "vxlan"
    )
    vni = vxlan["linkinfo"]["info_data"]["id"]
    port = next(x["ifname"] for x in far_truth["ip_link"] if x["ifindex"] == far_eth0["link_index"])
    ns = far_truth["namespace"]
    there = f"on node{far}: "
    far_titles = [h.title for h in res.hops if h.title.startswith(there)]
    assert far_titles[0] == (
        f"{there}arrives encapsulated from {NODE_ADDR[node]} on {UNDERLAY[far]} (UDP to port 4789)"
    )
    assert any(t.startswith(f"{there}filter INPUT") for t in far_titles)
    decap = f"{there}{vxlan['ifname']} in {ns}: VNI {vni} decapsulated, to br0 in {ns}"
    assert decap in far_titles
    assert f"{there}br0 in {ns}: {mac} is on {port} ({far_name})" in far_titles
    assert far_titles[-1] == f"{there}delivered to {far_name} ({far_ip}) on overlay nxoverlay"
    # the far hops name the far node's items by far keys, never this node's keys
    here_keys = set(host_read(node).correlation.links.labels)
    far_ct = host_read(far).correlation.containers_by_name[far_name]
    far_keys = {k for h in res.hops if h.title.startswith(there) for k in h.keys}
    assert far_keys
    assert all(k.startswith("far:") and k.endswith(f"@node{far}") for k in far_keys)
    assert not far_keys & here_keys
    assert far_key(f"node{far}", far_ct.key) in res.hops[-1].keys
    assert res.sentence.endswith(
        f"through the VXLAN tunnel (VNI {vni}) to {NODE_ADDR[far]} = node{far}: its "
        f"{vxlan['ifname']}, br0 in {ns}, {port}, to {far_name} ({far_ip})"
    )
    # the reply: out of the far container through its node's tunnel, then into this one
    back = titles(res.reply)
    assert back[0] == (f"{there}route in {far_name}: {CONTAINER[node][1]} dev eth0 src {far_ip}")
    out = f"{there}leaves the host on {UNDERLAY[far]} as udp {NODE_ADDR[far]}:"
    left = next(n for n, t in enumerate(back) if t.startswith(out))
    assert back[left + 1] == (
        f"the reply arrives encapsulated from {NODE_ADDR[far]} on {UNDERLAY[node]} "
        "(UDP to port 4789)"
    )
    assert not any(t.startswith(there) for t in back[left + 1 :])
    assert back[-1] == f"delivered to {CONTAINER[node][0]} ({CONTAINER[node][1]})"


@pytest.mark.parametrize("node", [1, 2])
@pytest.mark.parametrize("both", [True, False])
def test_the_reply_enters_this_node_through_its_vxlan_port_not_to_the_host(
    node: int, both: bool
) -> None:
    """The reply's UDP packet reaches this node's INPUT as the request's reached the
    far node's: to the vxlan device's port (the recorded ``ip -d link`` of this
    node's vxlan, at the address the far node's FDB names for it), then decapsulated
    by that vxlan; the only delivery is the container's, last."""
    res = (
        far_path(node)
        if both
        else path(snapshot(node), *[CONTAINER[node][0], CONTAINER[3 - node][1]])
    )
    assert res.reply_verdict == "delivered"
    here = truth_of(node)
    vxlan = next(x for x in here["ip_link"] if x.get("linkinfo", {}).get("info_kind") == "vxlan")
    udp = vxlan["linkinfo"]["info_data"]["port"]
    vtep_here = next(e["dst"] for e in truth_of(3 - node)["fdb"] if e.get("dst"))
    assert vtep_here == NODE_ADDR[node]
    back = [h for h in res.reply if not h.title.startswith("on node")]
    decap = next(n for n, h in enumerate(back) if h.title.startswith(f"{vxlan['ifname']} in "))
    assert (back[decap - 1].kind, back[decap - 1].title) == (
        "tunnel",
        f"to the host ({vtep_here}): UDP port {udp} is the vxlan device's",
    )
    assert back[decap - 1].verdict is None
    assert [h.kind for h in res.reply].count("deliver") == 1
    assert res.reply[-1].kind == "deliver"
    assert res.reply[-1].title == f"delivered to {CONTAINER[node][0]} ({CONTAINER[node][1]})"


def test_the_far_nodes_firewall_dropping_udp_4789_is_where_it_stops() -> None:
    snap = input_dropped(2)
    res = far_path(1, snap)
    assert res.verdict == "dropped"
    assert res.hops[-1].title.startswith("on node2: filter INPUT")
    assert "-> 10.200.0.12: dropped: on node2: the tunnel's UDP packet: " in res.sentence
    assert not any("delivered to sw2" in t for t in titles(res.hops))


def test_a_far_node_without_the_container_drops_at_its_br0() -> None:
    snap = copy.deepcopy(snapshot(2))
    snap.containers = [c for c in snap.containers if c.name != "sw2"]
    res = far_path(1, snap)
    ns = truth_of(2)["namespace"]
    assert res.verdict == "dropped"
    assert res.hops[-1].title == f"on node2: br0 in {ns}: no port's far end has 10.200.0.12"


def test_without_the_far_nodes_read_the_path_says_it_stops_at_the_tunnel() -> None:
    res = path(snapshot(1), "sw1", "10.200.0.12")
    assert res.verdict == "delivered"
    assert res.sentence.endswith(
        "the path stops at the tunnel: 198.51.100.18's read is not open "
        "(open that host too to follow it to its container)"
    )
    assert not any(t.startswith("on node2") for t in titles(res.hops))
