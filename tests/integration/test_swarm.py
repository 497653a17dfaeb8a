"""The two-node swarm of ``scripts/lab swarm up``, against ground truth.

The module's fixture brings the swarm up before its tests and down after them
(also on failure), so the rest of the suite sees the plain lab; it then checks the
plain lab is back. Ground truth: ``ip -d -j link``, ``bridge -j fdb`` and ``ip -j
addr`` inside each node's overlay namespace (``nsenter --net=FILE``), each
container's own eth0/eth1 (``nsenter`` into its netns), ``docker network inspect``
on each node, ``iptables-save``, and pings between the containers for the tunnel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from ui.helpers import WIDE
from ui.test_map_screen import map_of
from ui.test_path_screen import path_of

from benchmarks.sshd import ThrowawaySshd, free_port
from netexplorer.collect.overlay_source import NETNS_DIR_ENV
from netexplorer.collect.snapshot import collect_snapshot
from netexplorer.correlate import Correlation, correlate
from netexplorer.doctor import diagnose
from netexplorer.map.layout import draw
from netexplorer.map.model import build_map
from netexplorer.model import Snapshot
from netexplorer.overlay import OverlayNet
from netexplorer.overlay_peers import HostRead, far_ends, far_key, join
from netexplorer.path import trace_path
from netexplorer.remote.hosts import read_host
from netexplorer.remote.target import parse_target
from netexplorer.snapshot_io import snapshot_from_dict
from netexplorer.ui.app import create_app
from netexplorer.ui.screens.map import MapScreen
from netexplorer.ui.screens.path import PathScreen

from . import groundtruth as gt
from . import swarm_truth as st
from .test_live import until

UNDERLAY = {1: "nx-sw0", 2: "nx-sw1"}
ADDR = {1: st.NODE1_ADDR, 2: st.NODE2_ADDR}
CONTAINER = {1: st.C1, 2: st.C2}


def lab_swarm(action: str) -> None:
    proc = subprocess.run(
        [str(gt.LAB_SCRIPT), "swarm", action], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"scripts/lab swarm {action}: {proc.stderr.strip()}"


def plain_lab_state() -> dict[str, Any]:
    """What the swarm must not leave behind."""
    nets = gt.run("docker", "network", "ls", "--format", "{{.Name}}").split()
    backend = gt.active_iptables_mode()
    return {
        "gwbridge": "docker_gwbridge" in nets,
        "overlay": st.OVERLAY in nets,
        "netns": "nx-swarm2" in gt.run("ip", "netns", "list"),
        "veth": subprocess.run(["ip", "link", "show", "nx-sw0"], capture_output=True).returncode
        == 0,
        "ingress_chain": "DOCKER-INGRESS" in gt.iptables_save(backend),
        # an encrypted overlay's rules (u32 on its VNI) in mangle OUTPUT / filter INPUT
        "vni_rules": "-m u32" in gt.iptables_save(backend, "mangle") + gt.iptables_save(backend),
        "swarm": gt.run("docker", "info", "-f", "{{.Swarm.LocalNodeState}}").strip(),
    }


@pytest.fixture(scope="module")
def swarm(lab: str) -> Iterator[None]:
    try:
        lab_swarm("up")
        yield
    finally:
        lab_swarm("down")
        assert plain_lab_state() == {
            "gwbridge": False,
            "overlay": False,
            "netns": False,
            "veth": False,
            "ingress_chain": False,
            "vni_rules": False,
            "swarm": "inactive",
        }
        assert gt.lab_status()[0] == 0


def read_node(node: int) -> tuple[Snapshot, Correlation]:
    snap = collect_snapshot() if node == 1 else snapshot_from_dict(json.loads(st.snapshot_json(2)))
    return snap, correlate(snap)


def overlay(corr: Correlation, name: str) -> OverlayNet:
    return next(o for o in corr.overlay.networks.values() if o.network.name == name)


def container_link(node: int, name: str, ifname: str) -> dict[str, Any]:
    return st.container_eth(node, name, ifname)


@pytest.mark.parametrize("node", [1, 2])
def test_overlay_endpoint_maps_to_its_veth_br0_vni_and_gwbridge_leg(swarm: None, node: int) -> None:
    snap, corr = read_node(node)
    net = json.loads(st.docker(node, "network", "inspect", st.OVERLAY))[0]
    ns_path = st.overlay_namespace(node, net["Id"])
    truth = st.namespace_truth(ns_path)
    o = overlay(corr, st.OVERLAY)
    assert o.namespace is not None and o.namespace.path == ns_path
    vxlan_truth = next(
        x for x in truth["ip_link"] if x.get("linkinfo", {}).get("info_kind") == "vxlan"
    )
    data = vxlan_truth["linkinfo"]["info_data"]
    assert (
        o.vni == data["id"] == int(net["Options"]["com.docker.network.driver.overlay.vxlanid_list"])
    )
    assert o.vxlan is not None and o.vxlan.vxlan is not None
    assert (o.vxlan.name, o.vxlan.vxlan.port) == (vxlan_truth["ifname"], data["port"])
    assert o.vxlan.master == vxlan_truth["master"] == "br0"
    # the container's eth0 is the other end of a port on br0 in the overlay namespace
    name = CONTAINER[node]
    ct = corr.containers_by_name[name]
    ep = next(e for e in ct.endpoints if e.network == st.OVERLAY)
    found = corr.overlay.of_endpoint(ep.key)
    assert found is not None
    _o, port = found
    eth0 = container_link(node, name, "eth0")
    port_truth = next(x for x in truth["ip_link"] if x["ifindex"] == eth0["link_index"])
    assert (port.ifindex, port.name, port.master) == (
        port_truth["ifindex"],
        port_truth["ifname"],
        port_truth["master"],
    )
    assert port.link_ifindex == eth0["ifindex"]
    # eth1 -> docker_gwbridge -> MASQUERADE
    eth1 = container_link(node, name, "eth1")
    leg = next(e for e in ct.endpoints if e.network == "docker_gwbridge")
    w = corr.wiring(leg)
    assert w.host_ifindex == eth1["link_index"] and w.bridge == "docker_gwbridge"
    assert any(
        r.target == "MASQUERADE" and r.out_interface == "docker_gwbridge" and r.id in w.rules
        for r in snap.rules
    )
    # the tunnel's underlay: the interface holding this node's swarm address
    assert o.underlay is not None and o.underlay.name == UNDERLAY[node]
    assert snap.swarm is not None and snap.swarm.node_addr == ADDR[node]


@pytest.mark.parametrize("node", [1, 2])
def test_each_fdb_names_the_other_node_and_the_tunnel_carries_a_ping(
    swarm: None, node: int
) -> None:
    _snap, corr = read_node(node)
    net = json.loads(st.docker(node, "network", "inspect", st.OVERLAY))[0]
    fdb = st.namespace_truth(st.overlay_namespace(node, net["Id"]))["fdb"]
    truth_vteps = {e["dst"] for e in fdb if e.get("dst")}
    o = overlay(corr, st.OVERLAY)
    assert {v.ip for v in o.vteps} == truth_vteps == {ADDR[3 - node]}
    # the far container's MAC is among those the FDB sends to the far node
    other = CONTAINER[3 - node]
    mac = json.loads(st.docker(3 - node, "inspect", other))[0]["NetworkSettings"]["Networks"][
        st.OVERLAY
    ]["MacAddress"]
    (vtep,) = o.vteps
    assert mac in vtep.macs
    assert vtep.node == next(p["Name"] for p in net["Peers"] if p["IP"] == ADDR[3 - node])
    target = st.C2_IP if node == 1 else st.C1_IP
    st.docker(node, "exec", CONTAINER[node], "ping", "-c1", "-W2", target)


def test_service_task_labels_and_the_ingress_mesh(swarm: None) -> None:
    snap, corr = read_node(1)
    task = next(c for c in snap.containers if c.name.startswith("nxweb."))
    assert task.labels["com.docker.swarm.service.name"] == "nxweb"
    assert task.labels["com.docker.swarm.task.name"] == task.name
    ingress = next(o for o in corr.overlay.networks.values() if o.network.ingress)
    owners = {p.owner_name for p in ingress.ports}
    assert {"ingress_sbox", task.name} <= owners
    backend = gt.active_iptables_mode()
    save = gt.iptables_save(backend, "nat")
    truth = {line for line in save.splitlines() if line.startswith("-A DOCKER-INGRESS ")}
    dnat = [r for r in snap.rules if r.chain == "DOCKER-INGRESS" and r.backend.endswith(backend)]
    assert {r.text for r in dnat if r.table == "nat"} == truth
    if os.path.exists("/proc/net/ip_vs"):
        # the mesh is programmed only where the kernel has IPVS (scripts/lab-swarm.sh)
        assert any(r.target == "DNAT" and r.dport == "8081" for r in dnat)


@pytest.mark.parametrize("node", [1, 2])
def test_path_across_the_tunnel_as_the_namespace_has_it(swarm: None, node: int) -> None:
    """sw1 -> sw2 (and back from node 2): eth0 -> its veth on br0 -> vxlan0 with the
    VNI, the FDB's VTEP and UDP 4789 -> the underlay interface the node routes the
    VTEP by, checked against ip neigh, bridge fdb and ip -d link in the overlay
    namespace, ip route get on the node, and a ping through the tunnel."""
    snap, corr = read_node(node)
    name, far_ip = CONTAINER[node], (st.C2_IP if node == 1 else st.C1_IP)
    net = json.loads(st.docker(node, "network", "inspect", st.OVERLAY))[0]
    truth = st.namespace_truth(st.overlay_namespace(node, net["Id"]))
    mac = next(n["lladdr"] for n in truth["neigh"] if n["dst"] == far_ip)
    vtep = next(e["dst"] for e in truth["fdb"] if e["mac"] == mac and e.get("dst"))
    vxlan = next(x for x in truth["ip_link"] if x.get("linkinfo", {}).get("info_kind") == "vxlan")
    data = vxlan["linkinfo"]["info_data"]
    eth0 = container_link(node, name, "eth0")
    port = next(x for x in truth["ip_link"] if x["ifindex"] == eth0["link_index"])
    under = json.loads(st.run(*st.node_prefix(node), "ip", "-j", "route", "get", vtep))[0]

    res = trace_path(snap, corr, name, far_ip)
    assert res.verdict == "delivered", res.sentence
    hops = {h.kind: h.title for h in res.hops if h.kind in ("veth", "bridge", "tunnel", "egress")}
    assert f"{port['ifname']}@if{eth0['ifindex']} on br0 in 1-{net['Id'][:10]}" in hops["veth"]
    assert f"{far_ip} is {mac} (neighbour entry on {vxlan['ifname']})" in hops["bridge"]
    assert f"VNI {data['id']}, FDB {mac} -> VTEP {vtep}" in hops["tunnel"]
    assert f"UDP to {vtep}:{data['port']}" in hops["tunnel"]
    assert hops["egress"].startswith(
        f"leaves the host on {under['dev']} as udp {under['prefsrc']}:"
    )
    assert vtep == ADDR[3 - node] and under["dev"] == UNDERLAY[node]
    assert res.reply_verdict == "delivered"
    st.docker(node, "exec", name, "ping", "-c1", "-W2", far_ip)  # the tunnel carries it


def test_path_to_the_internet_leaves_by_docker_gwbridge_and_its_masquerade(swarm: None) -> None:
    """sw1 -> the lab's internet: eth1 -> docker_gwbridge -> MASQUERADE; the rule the
    path names is the one whose counter a real ping moves."""
    route = gt.route_get(gt.INET_ADDR)
    assert route.get("dev") == gt.INET_HOST_IF  # the traffic rule: only into nx-inet
    snap, corr = read_node(1)
    res = trace_path(snap, corr, st.C1, "internet")
    assert res.verdict == "delivered", res.sentence
    eth1 = container_link(1, st.C1, "eth1")
    veth = next(h.title for h in res.hops if h.kind == "veth")
    assert veth.startswith(f"eth1@if{eth1['link_index']} of {st.C1}")
    assert veth.endswith("a port of docker_gwbridge")
    (nat,) = [h for h in res.hops if h.kind == "nat"]
    rule = next(r for r in snap.rules if r.key == nat.rule)
    backend = gt.active_iptables_mode()
    assert rule.backend.endswith(backend)
    assert rule.text in gt.iptables_save(backend, "nat").splitlines()

    def packets() -> int:
        after = collect_snapshot()
        return next(r.packets for r in after.rules if r.key == rule.key)

    before = packets()
    st.docker(1, "exec", st.C1, "ping", "-c1", "-W2", gt.INET_ADDR)
    assert packets() > before


#: what Docker writes for a published port where the kernel has IPVS (this one has
#: not, so dockerd stops before writing them): DNAT to ingress_sbox's docker_gwbridge
#: address, jumped to for local destinations
def ingress_rules(sbox: str) -> list[list[str]]:
    return [
        ["-N", "DOCKER-INGRESS"],
        ["-A", "DOCKER-INGRESS", "-p", "tcp", "-m", "tcp", "--dport", "8081",
         "-j", "DNAT", "--to-destination", f"{sbox}:8081"],
        ["-A", "DOCKER-INGRESS", "-j", "RETURN"],
        ["-I", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER-INGRESS"],
        ["-I", "OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER-INGRESS"],
    ]  # fmt: skip


def dnat_packets(backend: str) -> int:
    """The packet counter of DOCKER-INGRESS's DNAT rule (``iptables-save -c``)."""
    for line in gt.run(f"iptables-{backend}-save", "-c", "-t", "nat").splitlines():
        if "-A DOCKER-INGRESS " in line and "-j DNAT" in line:
            return int(line[1:].split(":", 1)[0])
    raise AssertionError("no DNAT rule in DOCKER-INGRESS")


def tcp_out_rsts(ns: str) -> int:
    """TCP resets sent from inside namespace ``ns`` (its /proc/net/snmp)."""
    names, values = [
        line.split()[1:]
        for line in st.run("nsenter", f"--net={ns}", "cat", "/proc/net/snmp").splitlines()
        if line.startswith("Tcp:")
    ]
    return int(values[names.index("OutRsts")])


def test_published_port_through_the_ingress_mesh_ends_at_ipvs(swarm: None) -> None:
    """With the DOCKER-INGRESS DNAT Docker writes where IPVS exists, host -> node1:8081
    is DNATed to ingress_sbox and ends at IPVS, which this kernel lacks. Ground truth:
    iptables-save, ingress_sbox's eth1 address, /proc/net/ip_vs, and a real TCP
    connection that the DNAT rule counts and ingress_sbox's own TCP refuses."""
    sbox_ns = os.path.join(st.NODE1_NETNS_DIR, "ingress_sbox")
    sbox = next(
        a["local"]
        for link in st.in_ns(sbox_ns, "ip", "-j", "addr", "show", "eth1")
        for a in link["addr_info"]
        if a["family"] == "inet"
    )
    backend = gt.active_iptables_mode()
    ipt = f"iptables-{backend}"
    assert ":DOCKER-INGRESS" not in gt.iptables_save(backend, "nat")  # dockerd wrote none
    added: list[list[str]] = []
    try:
        for rule in ingress_rules(sbox):
            gt.run(ipt, "-t", "nat", *rule)
            added.append(rule)
        snap = collect_snapshot()
        res = trace_path(snap, correlate(snap), "host", f"{st.NODE1_ADDR}:8081", "tcp")
        (nat,) = [h for h in res.hops if h.kind == "nat"]
        assert "DNAT by -A DOCKER-INGRESS -p tcp -m tcp --dport 8081 -j DNAT" in nat.title
        assert nat.title.endswith(f"-> destination {sbox}:8081")
        assert res.hops[-2].title.endswith(f"eth1 of ingress_sbox ({sbox})")
        assert res.verdict == "uncertain"
        if not os.path.exists("/proc/net/ip_vs"):
            assert "not present on this kernel" in res.hops[-1].title
        # a real connection: the DNAT rule counts it, and ingress_sbox's own TCP
        # refuses it (nothing there listens: IPVS would have taken it)
        dnat_before = dnat_packets(backend)
        rsts_before = tcp_out_rsts(sbox_ns)
        proc = subprocess.run(
            ["bash", "-c", f"exec 3<>/dev/tcp/{st.NODE1_ADDR}/8081"], capture_output=True, text=True
        )
        assert "Connection refused" in proc.stderr
        assert dnat_packets(backend) == dnat_before + 1
        assert tcp_out_rsts(sbox_ns) > rsts_before
    finally:
        for rule in reversed(added):
            undo = {"-N": "-X", "-A": "-D", "-I": "-D"}[rule[0]]
            gt.run(ipt, "-t", "nat", undo, *rule[1:])
    assert ":DOCKER-INGRESS" not in gt.iptables_save(backend, "nat")


def test_both_nodes_over_ssh_join_each_tunnel_to_the_other_nodes_vxlan_and_container(
    swarm: None,
) -> None:
    """Issue 16's multi-host case over the remote support for real: node 1 through an
    sshd on 127.0.0.1, node 2 through an sshd started inside netns nx-swarm2 on its
    underlay address, whose sessions name node 2's dockerd and namespaces. Each
    node's tunnel leads to the other host's vxlan and container; ground truth: the
    FDB in each overlay namespace, ip -d link there, docker inspect on each node."""
    node2_env = {"DOCKER_HOST": st.NODE2_SOCK, NETNS_DIR_ENV: st.NODE2_NETNS_DIR}
    servers = [
        ThrowawaySshd(),
        ThrowawaySshd(listen=st.NODE2_ADDR, netns=st.NODE2_NETNS, session_env=node2_env),
    ]
    try:
        reads = []
        for n, server in enumerate(servers, start=1):
            server.start()
            got = read_host(parse_target(server.url()), False, server.env("good"))
            assert got.snapshot is not None, got.error
            reads.append(HostRead(f"node{n}", got.snapshot, correlate(got.snapshot)))
    finally:
        for server in servers:
            server.close()
    assert reads[1].read.swarm is not None and reads[1].read.swarm.node_addr == st.NODE2_ADDR
    for node in (1, 2):
        here, there = reads[node - 1], reads[2 - node]
        net = json.loads(st.docker(node, "network", "inspect", st.OVERLAY))[0]
        truth_there = st.namespace_truth(st.overlay_namespace(3 - node, net["Id"]))
        far_vxlan = next(
            x["ifname"]
            for x in truth_there["ip_link"]
            if x.get("linkinfo", {}).get("info_kind") == "vxlan"
        )
        fdb = st.namespace_truth(st.overlay_namespace(node, net["Id"]))["fdb"]
        vtep = next(e["dst"] for e in fdb if e.get("dst"))
        o = overlay(here.correlation, st.OVERLAY)
        assert o.vxlan is not None
        (end,) = far_ends(here, [there])[o.vxlan.key]
        far_ct = CONTAINER[3 - node]
        far_ip = json.loads(st.docker(3 - node, "inspect", far_ct))[0]["NetworkSettings"][
            "Networks"
        ][st.OVERLAY]["IPAddress"]
        assert (end.vtep, end.host, end.vxlan, end.namespace) == (
            vtep,
            there.name,
            far_vxlan,
            os.path.basename(st.overlay_namespace(3 - node, net["Id"])),
        )
        assert vtep == ADDR[3 - node] and (far_ct, far_ip) in end.containers
        local = here.correlation.containers_by_name[CONTAINER[node]]
        assert end in far_ends(here, [there])[local.key]
        check_across(node, here, there, net["Id"])


def far_truth(node: int, network_id: str) -> dict[str, Any]:
    """Ground truth of node ``node``'s side of the tunnel: its overlay namespace's
    vxlan (ip -d link: name, VNI), br0, and its container's eth0 (its iflink: the
    veth on br0; its MAC) and overlay address (docker inspect)."""
    ns = st.overlay_namespace(node, network_id)
    links = st.namespace_truth(ns)["ip_link"]
    vxlan = next(x for x in links if x.get("linkinfo", {}).get("info_kind") == "vxlan")
    eth0 = container_link(node, CONTAINER[node], "eth0")
    inspect = json.loads(st.docker(node, "inspect", CONTAINER[node]))[0]
    return {
        "namespace": os.path.basename(ns),
        "vxlan": vxlan["ifname"],
        "vni": vxlan["linkinfo"]["info_data"]["id"],
        "bridge": vxlan["master"],
        "veth": next(x["ifname"] for x in links if x["ifindex"] == eth0["link_index"]),
        "mac": eth0["address"],
        "ip": inspect["NetworkSettings"]["Networks"][st.OVERLAY]["IPAddress"],
    }


def check_across(node: int, here: HostRead, there: HostRead, network_id: str) -> None:
    """With node ``node``'s read and the other node's both open: the path from its
    container into the other node's, the map's tunnel row, and one selection across,
    against ground truth of both overlay namespaces and a ping through the tunnel."""
    far = 3 - node
    near_t, far_t = far_truth(node, network_id), far_truth(far, network_id)
    ns = far_t["namespace"]
    # the path: past this node's underlay into the far node's vxlan, br0, veth, container
    res = trace_path(here.read, here.correlation, CONTAINER[node], far_t["ip"], others=[there])
    assert res.verdict == "delivered" and res.reply_verdict == "delivered", res.sentence
    on = f"on {there.name}: "
    titles = [h.title for h in res.hops]
    assert (
        f"{on}arrives encapsulated from {ADDR[node]} on {UNDERLAY[far]} (UDP to port 4789)"
        in titles
    )
    assert f"{on}{far_t['vxlan']} in {ns}: VNI {far_t['vni']} decapsulated, to br0 in {ns}" in (
        titles
    )
    assert f"{on}br0 in {ns}: {far_t['mac']} is on {far_t['veth']} ({CONTAINER[far]})" in titles
    assert (
        titles[-1] == f"{on}delivered to {CONTAINER[far]} ({far_t['ip']}) on overlay {st.OVERLAY}"
    )
    far_ct = there.correlation.containers_by_name[CONTAINER[far]]
    assert far_key(there.name, far_ct.key) in res.hops[-1].keys
    back = [h.title for h in res.reply]
    assert back[0].startswith(f"{on}route in {CONTAINER[far]}: {near_t['ip']} dev eth0")
    assert back[-1] == f"delivered to {CONTAINER[node]} ({near_t['ip']})"
    # without the other node's read, the path says where it stops
    alone = trace_path(here.read, here.correlation, CONTAINER[node], far_t["ip"])
    assert alone.sentence.endswith(
        f"the path stops at the tunnel: {ADDR[far]}'s read is not open "
        "(open that host too to follow it to its container)"
    )
    # the map: the tunnel row goes on to the far vxlan, br0, veth and container
    joined = join(here, [there])
    hmap = build_map(here.read, here.correlation, joined.ends)
    row = (
        f"═▶ {there.name}: {far_t['vxlan']} ─▶ {far_t['bridge']} ─▶ {far_t['veth']} "
        f"─▶ {CONTAINER[far]} {far_t['ip']}"
    )
    assert any(line.endswith(row) for line in draw(hmap).lines), draw(hmap).text()
    # one selection across: the far container lights this node's tunnel
    o = overlay(here.correlation, st.OVERLAY)
    assert o.vxlan is not None and o.underlay is not None
    related = joined.links(here.correlation.links).related(far_key(there.name, far_ct.key))
    assert {o.vxlan.key, o.underlay.key, o.network.key} <= related
    st.docker(node, "exec", CONTAINER[node], "ping", "-c1", "-W2", far_t["ip"])


def test_path_into_the_far_node_stops_at_its_firewall_for_real(swarm: None) -> None:
    """Node 2's INPUT dropping UDP 4789 (inserted for real in nx-swarm2): the ping
    across fails, and the path from sw1 with both reads open ends on node 2 at that
    rule."""
    backend = gt.active_iptables_mode()
    rule = ["INPUT", "-p", "udp", "--dport", "4789", "-j", "DROP"]
    in_node2 = ["nsenter", f"--net={st.NODE2_NETNS}", f"iptables-{backend}"]
    assert ping_across()
    gt.run(*in_node2, "-I", *rule)
    try:
        assert not ping_across()
        reads = [HostRead(f"node{n}", *read_node(n)) for n in (1, 2)]
        res = trace_path(reads[0].read, reads[0].correlation, st.C1, st.C2_IP, others=reads[1:])
        assert res.verdict == "dropped", res.sentence
        last = res.hops[-1]
        assert last.title.startswith("on node2: filter INPUT") and last.rule is not None
        text = next(r.text for r in reads[1].read.rules if far_key("node2", r.key) == last.rule)
        assert text == "-A INPUT -p udp -m udp --dport 4789 -j DROP"
        assert text in gt.run(*in_node2[:-1], f"iptables-{backend}-save").splitlines()
    finally:
        gt.run(*in_node2, "-D", *rule)
    assert ping_across()


def ping_across() -> bool:
    proc = subprocess.run(
        ["docker", "exec", st.C1, "ping", "-c1", "-W2", st.C2_IP], capture_output=True
    )
    return proc.returncode == 0


def checks_found(check: str) -> list[str]:
    snap = collect_snapshot()
    return [f.subject for f in diagnose(snap, checks=(check,))]


def test_doctor_is_silent_on_the_healthy_swarm(swarm: None) -> None:
    """Silent but for the encrypted overlay on a kernel that cannot hold its ESP
    states (test_doctor_overlay_ipsec_for_real: then its traffic is dropped)."""
    snap = collect_snapshot()
    found = [f.id for f in diagnose(snap) if f.check.startswith("overlay-")]
    broken = [] if esp_with(st.NODE2_ADDR) else [f"overlay-ipsec:{ENCRYPTED}:{st.NODE2_ADDR}"]
    assert found == broken


def test_doctor_mtu_mismatch_for_real(swarm: None) -> None:
    gt.run("ip", "link", "set", "nx-sw0", "mtu", "1400")
    try:
        assert "nxoverlay" in checks_found("overlay-mtu")
    finally:
        gt.run("ip", "link", "set", "nx-sw0", "mtu", "1500")
    assert checks_found("overlay-mtu") == []


def test_doctor_vxlan_port_dropped_for_real(swarm: None) -> None:
    backend = gt.active_iptables_mode()
    rule = ["INPUT", "-p", "udp", "--dport", "4789", "-j", "DROP"]
    assert ping_across()
    gt.run(f"iptables-{backend}", "-I", *rule)
    try:
        assert not ping_across()  # ground truth: the tunnel is cut
        assert f"iptables-{backend}:udp/4789" in checks_found("overlay-ports")
    finally:
        gt.run(f"iptables-{backend}", "-D", *rule)
    assert checks_found("overlay-ports") == []
    assert ping_across()


def test_doctor_vxlan_down_for_real(swarm: None) -> None:
    net = json.loads(st.docker(1, "network", "inspect", st.OVERLAY))[0]
    ns = st.overlay_namespace(1, net["Id"])
    # the kernel drops the device's neighbour entries with it: Docker's are put back
    neigh = [n for n in st.namespace_truth(ns)["neigh"] if n.get("dev") == "vxlan0"]
    assert neigh
    gt.run("nsenter", f"--net={ns}", "ip", "link", "set", "vxlan0", "down")
    try:
        assert not ping_across()
        assert "nxoverlay" in checks_found("overlay-vxlan")
    finally:
        gt.run("nsenter", f"--net={ns}", "ip", "link", "set", "vxlan0", "up")
        for n in neigh:
            gt.run(
                *("nsenter", f"--net={ns}", "ip", "neigh", "replace", n["dst"]),
                *("lladdr", n["lladdr"], "dev", "vxlan0", "nud", "permanent"),
            )
    assert [n for n in st.namespace_truth(ns)["neigh"] if n.get("dev") == "vxlan0"] == neigh
    assert checks_found("overlay-vxlan") == []
    assert ping_across()


def test_doctor_peer_missing_from_the_fdb_for_real(swarm: None) -> None:
    net = json.loads(st.docker(1, "network", "inspect", st.OVERLAY))[0]
    ns = st.overlay_namespace(1, net["Id"])
    entries = [e for e in st.namespace_truth(ns)["fdb"] if e.get("dst") == st.NODE2_ADDR]
    assert entries

    def fdb(action: str, e: dict[str, Any], *flags: str) -> None:
        dev = ["dev", e["ifname"], "dst", e["dst"], "self", *flags]
        gt.run("nsenter", f"--net={ns}", "bridge", "fdb", action, e["mac"], *dev)

    for e in entries:
        fdb("del", e)
    try:
        assert "nxoverlay" in checks_found("overlay-fdb")
    finally:
        for e in entries:
            fdb("append", e, "permanent")
    assert checks_found("overlay-fdb") == []
    assert ping_across()


def two_sshds_config(servers: list[ThrowawaySshd], path: Any) -> dict[str, str]:
    """One ``ssh -F`` config reaching each throwaway sshd with its own key and known
    host key (ssh takes the first value found: each server's block before ``*``), as
    NETEXPLORER_SSH for one command reading both."""
    lines: list[str] = []
    for server in servers:
        lines += [
            f"Host {server.listen}",
            f"  IdentityFile {server.dir / 'good'}",
            f"  UserKnownHostsFile {server.dir / 'known_hosts'}",
        ]
    lines += [
        "Host *",
        "  IdentitiesOnly yes",
        "  IdentityAgent none",
        "  StrictHostKeyChecking yes",
        "  LogLevel ERROR",
        "",
    ]
    path.write_text("\n".join(lines))
    return {**servers[0].env("good"), "NETEXPLORER_SSH": f"ssh -F {path}"}


def decapsulated(side: dict[str, Any]) -> str:
    """The hop of a node's vxlan taking the packet in (its far_truth)."""
    ns = side["namespace"]
    return f"{side['vxlan']} in {ns}: VNI {side['vni']} decapsulated, to {side['bridge']} in {ns}"


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netexplorer", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=180,
        check=False,
    )


def test_the_command_line_path_and_map_cross_hosts_over_ssh(swarm: None, tmp_path: Any) -> None:
    """``netexplorer path sw1 sw2`` and ``netexplorer map`` as a user types them, with
    node 1 read here (``--local``) or over ssh and node 2 over ssh (an sshd inside
    nx-swarm2): the path crosses the tunnel into node 2's vxlan, br0, veth and sw2 and
    the reply comes back through node 1's vxlan port; the map's tunnel row goes on
    into node 2. Ground truth: ``bridge fdb`` and ``ip -d link`` in both overlay
    namespaces, each container's eth0, docker inspect, and a ping sw1 -> sw2. A host
    that refuses the connection is named, and the rest is shown (exit 5)."""
    node2_env = {"DOCKER_HOST": st.NODE2_SOCK, NETNS_DIR_ENV: st.NODE2_NETNS_DIR}
    servers = [
        ThrowawaySshd(),
        ThrowawaySshd(listen=st.NODE2_ADDR, netns=st.NODE2_NETNS, session_env=node2_env),
    ]
    net = json.loads(st.docker(1, "network", "inspect", st.OVERLAY))[0]
    near, far = far_truth(1, net["Id"]), far_truth(2, net["Id"])
    # the tunnel carries a ping (also making Docker put back a neighbour entry an
    # earlier test's vxlan down/up removed), then the namespace is read for the truth
    st.docker(1, "exec", "sw1", "ping", "-c1", "-W2", far["ip"])
    fdb = st.namespace_truth(st.overlay_namespace(1, net["Id"]))["fdb"]
    assert {e["dst"] for e in fdb if e.get("dst")} == {st.NODE2_ADDR}
    assert any(e["mac"] == far["mac"] and e.get("dst") == st.NODE2_ADDR for e in fdb)
    try:
        for server in servers:
            server.start()
        env = two_sshds_config(servers, tmp_path / "ssh_config")
        node1, node2 = (s.url() for s in servers)
        name2 = parse_target(node2).label
        on2 = f"on {name2}: "
        for reads, name1 in (
            (["--local", "-H", node2], "local"),
            (["-H", node1, "-H", node2], None),
        ):
            done = run_cli(env, "path", "sw1", "sw2", "--json", *reads)
            assert (done.returncode, done.stderr) == (0, ""), done.stderr + done.stdout[-600:]
            doc = json.loads(done.stdout)
            label1 = name1 or parse_target(node1).label
            assert (doc["source"], doc["destination"]) == (f"sw1@{label1}", f"sw2@{name2}")
            assert doc["packet"]["dst"] == far["ip"] and doc["packet"]["src"] == near["ip"]
            titles = [h["title"] for h in doc["hops"]]
            vtep = f"{near['vxlan']}: VNI {near['vni']}, FDB {far['mac']} -> VTEP {st.NODE2_ADDR}"
            assert any(t.startswith(vtep) for t in titles)
            assert f"{on2}{decapsulated(far)}" in titles
            assert f"{on2}br0 in {far['namespace']}: {far['mac']} is on {far['veth']} (sw2)" in (
                titles
            )
            assert titles[-1] == f"{on2}delivered to sw2 ({far['ip']}) on overlay {st.OVERLAY}"
            back = [h["title"] for h in doc["reply"]]
            decap = decapsulated(near)
            assert back[back.index(decap) - 1] == (
                f"to the host ({st.NODE1_ADDR}): UDP port 4789 is the vxlan device's"
            )
            assert back[-1] == f"delivered to sw1 ({near['ip']})"
            assert [h["kind"] for h in doc["reply"]].count("deliver") == 1
        # the map: node 1's tunnel row goes on into node 2's vxlan, br0, veth and sw2
        done = run_cli(env, "map", "--local", "-H", node2)
        assert done.returncode == 0, done.stderr
        row = f"═▶ {name2}: {far['vxlan']} ─▶ {far['bridge']} ─▶ {far['veth']} ─▶ sw2 {far['ip']}"
        assert any(line.endswith(row) for line in done.stdout.splitlines()), done.stdout
        done = run_cli(env, "map", "--format", "json", "-H", node2, "--local")
        doc = json.loads(done.stdout)
        far_nodes = {n["id"]: n["label"] for n in doc["nodes"] if n["id"].startswith("far:")}
        assert any(
            lbl.startswith(f"local: {near['vxlan']} in {near['namespace']}")
            for lbl in far_nodes.values()
        )
        # a host that refuses the connection: named, the path over the others shown
        closed = f"ssh://root@127.0.0.1:{free_port()}"
        done = run_cli(env, "path", "sw1", "sw2", "--local", "-H", closed, "-H", node2)
        assert done.returncode == 5
        assert done.stderr.startswith(f"netexplorer: {parse_target(closed).label}: unreachable")
        assert f"{on2}delivered to sw2 ({far['ip']}) on overlay {st.OVERLAY}" in done.stdout
    finally:
        for server in servers:
            server.close()


async def test_the_app_with_this_node_live_and_node2_over_ssh_selects_across_the_tunnel(
    swarm: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``netexplorer --local -H ssh://node2`` (this node followed live, node 2 over ssh
    into an sshd inside nx-swarm2): once both reads are in, sw1 selected marks node
    2's vxlan; the map's tunnel row goes on into node 2's vxlan, br0, veth and sw2,
    and moving onto that sw2 marks this node's vxlan and underlay; the path from sw1
    to sw2 goes on into node 2 and its reply enters by this node's vxlan port.
    Ground truth: both overlay namespaces' ip -d link, each eth0, docker inspect, a
    ping across."""
    net = json.loads(st.docker(1, "network", "inspect", st.OVERLAY))[0]
    near, far = far_truth(1, net["Id"]), far_truth(2, net["Id"])
    st.docker(1, "exec", "sw1", "ping", "-c1", "-W2", far["ip"])
    node2_env = {"DOCKER_HOST": st.NODE2_SOCK, NETNS_DIR_ENV: st.NODE2_NETNS_DIR}
    server = ThrowawaySshd(listen=st.NODE2_ADDR, netns=st.NODE2_NETNS, session_env=node2_env)
    try:
        server.start()
        for k, v in server.env("good").items():
            monkeypatch.setenv(k, v)
        app = create_app(hosts=[None, parse_target(server.url())], interval=2.0)
        async with app.run_test(size=WIDE) as pilot:

            def both_in() -> bool:
                return all(v.analysis is not None for v in app.views) and bool(app.joined.ends)

            assert await until(pilot, both_in, 60), [v.state for v in app.views]
            name2 = app.views[1].source.name
            assert (app.views[0].source.name, name2) == ("local", f"ssh {server.url()[6:]}")
            there = app.views[1].analysis
            assert there is not None and app.analysis is not None
            o = overlay(app.analysis.correlation, st.OVERLAY)
            far_o = overlay(there.correlation, st.OVERLAY)
            assert o.vxlan is not None and o.underlay is not None
            assert far_o.vxlan is not None and far_o.namespace is not None
            assert (far_o.vxlan.name, far_o.vni, far_o.namespace.name) == (
                far["vxlan"],
                far["vni"],
                far["namespace"],
            )
            assert o.underlay.name == UNDERLAY[1]
            sw1 = app.analysis.correlation.containers_by_name["sw1"]
            sw2 = far_key(name2, there.correlation.containers_by_name["sw2"].key)
            app.select(sw1.key, "containers")
            await pilot.pause()
            assert far_key(name2, far_o.vxlan.key) in app.related
            # the map: the tunnel row into node 2; sw2 there selects across (the live
            # feeds' workers never end: each step waits for what it shows)
            row = (
                f"═▶ {name2}: {far['vxlan']} ─▶ {far['bridge']} ─▶ {far['veth']} ─▶ sw2 {far['ip']}"
            )

            def drawn() -> bool:
                screen = app.screen
                return isinstance(screen, MapScreen) and any(
                    line.endswith(row) for line in screen.view.drawing.lines
                )

            await pilot.press("m")
            assert await until(pilot, drawn, 30), app.screen
            view = map_of(app).view
            assert view.place(sw2)
            map_of(app).cursor_moved()
            await pilot.pause()
            assert app.selected == sw2
            assert {o.vxlan.key, o.underlay.key, o.network.key} <= app.related
            await pilot.press("escape")
            await pilot.pause()
            # the path: into node 2's sw2, the reply back through this node's vxlan port
            app.select(sw1.key, "containers")
            await pilot.pause()
            await pilot.press("p")
            await pilot.pause()
            await pilot.press(*far["ip"], "enter")

            def traced() -> bool:
                screen = app.screen
                return isinstance(screen, PathScreen) and screen.result is not None

            assert await until(pilot, traced, 30), app.screen
            result = path_of(app).result
            assert result is not None and result.verdict == "delivered", result
            assert result.hops[-1].title == (
                f"on {name2}: delivered to sw2 ({far['ip']}) on overlay {st.OVERLAY}"
            )
            assert f"on {name2}: {decapsulated(far)}" in [h.title for h in result.hops]
            back = [h.title for h in result.reply]
            assert back[back.index(decapsulated(near)) - 1] == (
                f"to the host ({st.NODE1_ADDR}): UDP port 4789 is the vxlan device's"
            )
            assert back[-1] == f"delivered to sw1 ({near['ip']})"
    finally:
        server.close()


# ----------------------------------------------------------------- encrypted overlay
ENCRYPTED = "nxsecure"  # scripts/lab-swarm.sh: --opt encrypted, se1 (node 1), se2 (node 2)


def vni_rules_saved(vni: int, node: int = 1) -> list[str]:
    """Ground truth: node ``node``'s iptables-save lines whose u32 match picks VNI
    ``vni`` out of the VXLAN header (iptables-save prints it in hex, ``=0x<VNI<<8>``)."""
    backend = gt.active_iptables_mode()
    wanted = f"=0x{vni << 8:x}"
    return [
        line
        for table in ("mangle", "filter")
        for line in gt.run(
            *st.node_prefix(node), f"iptables-{backend}-save", "-t", table
        ).splitlines()
        if "-m u32" in line and wanted in line.lower()
    ]


def test_the_encrypted_overlay_is_read_as_docker_says_and_its_vni_rules_link_to_it(
    swarm: None,
) -> None:
    snap, corr = read_node(1)
    inspect = {
        name: json.loads(st.docker(1, "network", "inspect", name))[0]
        for name in (st.OVERLAY, ENCRYPTED, "ingress")
    }
    nets = {n.name: n for n in snap.networks if n.name in inspect}
    for name, doc in inspect.items():
        assert nets[name].encrypted is ("encrypted" in (doc["Options"] or {})), name
        assert nets[name].attachable is doc["Attachable"]
    assert nets[ENCRYPTED].encrypted and not nets[st.OVERLAY].encrypted
    vni = nets[ENCRYPTED].vni
    assert vni is not None
    assert (
        str(vni)
        == inspect[ENCRYPTED]["Options"]["com.docker.network.driver.overlay.vxlanid_list"].split(
            ","
        )[0]
    )
    saved = vni_rules_saved(vni)
    # Docker's mark (mangle OUTPUT) and its plaintext drop (filter INPUT) for that VNI
    assert any(s.startswith("-A OUTPUT") and "MARK" in s for s in saved), saved
    assert any(s.startswith("-A INPUT") and s.endswith("-j DROP") for s in saved), saved
    related = corr.links.related(nets[ENCRYPTED].key)
    linked = {r.text for r in snap.rules if r.netns is None and r.key in related}
    assert set(saved) <= linked
    # the plain overlay's VNI has no such rules, and none is linked to it
    plain_vni = nets[st.OVERLAY].vni
    assert plain_vni is not None and vni_rules_saved(plain_vni) == []
    plain_related = corr.links.related(nets[st.OVERLAY].key)
    assert not [r for r in snap.rules if r.key in plain_related and "u32" in r.text]


def xfrm_heads(what: str) -> list[tuple[str, str]]:
    """Ground truth: (src, dst) of each ``ip xfrm state|policy`` entry. Only these are
    kept: the raw state text holds keys, and it never leaves this function."""
    return [
        (words[1], words[3])
        for line in gt.run("ip", "xfrm", what).splitlines()
        if line.startswith("src ") and len(words := line.split()) >= 4
    ]


def test_the_hosts_ipsec_is_read_while_an_encrypted_overlay_exists(swarm: None) -> None:
    """By the first read and by the live feed's (its parts assembled the same way)."""
    from netexplorer.collect.snapshot import assemble, collect_parts

    for snap in (read_node(1)[0], assemble(collect_parts())):
        assert snap.xfrm_read
        assert [(s.src, s.dst) for s in snap.xfrm_states] == xfrm_heads("state")
        assert [(p.src, p.dst) for p in snap.xfrm_policies] == xfrm_heads("policy")


def esp_with(peer: str) -> bool:
    """Ground truth: does the host hold an ESP state each way with ``peer``?"""
    heads = xfrm_heads("state")
    return any(dst == peer for _, dst in heads) and any(src == peer for src, _ in heads)


def test_doctor_overlay_ipsec_for_real(swarm: None) -> None:
    """On a kernel without ESP (this sandbox) Docker writes nxsecure's rules but no
    state: ``ip xfrm state`` has nothing with node 2, se1 cannot ping se2 (while sw1
    pings sw2 on the plain overlay), and the doctor says why. Where the kernel has
    ESP the states exist, the ping passes and the check is silent."""
    pinged = (
        subprocess.run(
            ["docker", "exec", "se1", "ping", "-c2", "-W2", "10.201.0.12"], capture_output=True
        ).returncode
        == 0
    )
    assert ping_across()  # the plain overlay carries traffic between the same nodes
    found = diagnose(collect_snapshot(), checks=("overlay-ipsec",))
    if esp_with(st.NODE2_ADDR):
        assert pinged and found == []
        return
    assert not pinged
    (f,) = found
    assert f.subject == f"{ENCRYPTED}:{st.NODE2_ADDR}"
    assert st.NODE2_ADDR in f.title and ENCRYPTED in f.title
    vni = json.loads(st.docker(1, "network", "inspect", ENCRYPTED))[0]["Options"][
        "com.docker.network.driver.overlay.vxlanid_list"
    ]
    assert f"dropped by Docker's INPUT rule for plaintext VXLAN (VNI {vni})" in f.detail
    (drop,) = [s for s in vni_rules_saved(int(vni)) if s.endswith("-j DROP")]
    assert drop in f.detail


def test_path_across_the_encrypted_tunnel_for_real(swarm: None) -> None:
    """se1 -> se2 with both nodes' reads open: without an ESP state (this kernel) the
    tunnel hop says the VXLAN leaves in plaintext, and the path ends on node 2 at
    Docker's plaintext-drop rule for the VNI (as node 2's iptables-save has it), as
    the failing ping says; with ESP states the path and the ping get through."""
    reads = [HostRead(f"node{n}", *read_node(n)) for n in (1, 2)]
    res = trace_path(reads[0].read, reads[0].correlation, "se1", "10.201.0.12", others=reads[1:])
    pinged = (
        subprocess.run(
            ["docker", "exec", "se1", "ping", "-c2", "-W2", "10.201.0.12"], capture_output=True
        ).returncode
        == 0
    )
    if esp_with(st.NODE2_ADDR):
        assert pinged and res.verdict == "delivered", res.sentence
        return
    assert not pinged and res.verdict == "dropped", res.sentence
    tunnel = next(h.title for h in res.hops if h.kind == "tunnel")
    assert f"no ESP state to {st.NODE2_ADDR}: it leaves in plaintext" in tunnel
    last = res.hops[-1]
    assert last.title.startswith("on node2: filter INPUT") and last.rule is not None
    text = next(r.text for r in reads[1].read.rules if far_key("node2", r.key) == last.rule)
    vni = next(n.vni for n in reads[0].read.networks if n.name == ENCRYPTED)
    assert vni is not None
    (drop,) = [x for x in vni_rules_saved(vni, node=2) if x.endswith("-j DROP")]
    assert text == drop
    assert f"no ESP state from {st.NODE1_ADDR}" in res.sentence


def test_doctor_esp_dropped_on_input_for_real(swarm: None) -> None:
    """The host's INPUT dropping ESP (inserted for real) while nxsecure has a peer:
    overlay-ipsec names the rule as iptables-save prints it."""
    backend = gt.active_iptables_mode()
    rule = ["INPUT", "-p", "esp", "-j", "DROP"]
    gt.run(f"iptables-{backend}", "-I", *rule)
    try:
        assert "-A INPUT -p esp -j DROP" in gt.iptables_save(backend, "filter").splitlines()
        snap = collect_snapshot()
        found = [f for f in diagnose(snap, checks=("overlay-ipsec",)) if f.subject.endswith(":esp")]
        assert [f.subject for f in found] == [f"iptables-{backend}:esp"]
        assert "'-A INPUT -p esp -j DROP'" in found[0].title
    finally:
        gt.run(f"iptables-{backend}", "-D", *rule)
    assert "-p esp" not in gt.iptables_save(backend, "filter")
