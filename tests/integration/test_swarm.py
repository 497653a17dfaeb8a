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
from collections.abc import Iterator
from typing import Any

import pytest

from netexplorer.collect.snapshot import collect_snapshot
from netexplorer.correlate import Correlation, correlate
from netexplorer.doctor import diagnose
from netexplorer.model import Snapshot
from netexplorer.overlay import OverlayNet
from netexplorer.snapshot_io import snapshot_from_dict

from . import groundtruth as gt
from . import swarm_truth as st

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


def ping_across() -> bool:
    proc = subprocess.run(
        ["docker", "exec", st.C1, "ping", "-c1", "-W2", st.C2_IP], capture_output=True
    )
    return proc.returncode == 0


def checks_found(check: str) -> list[str]:
    snap = collect_snapshot()
    return [f.subject for f in diagnose(snap, checks=(check,))]


def test_doctor_is_silent_on_the_healthy_swarm(swarm: None) -> None:
    snap = collect_snapshot()
    assert [f.title for f in diagnose(snap) if f.check.startswith("overlay-")] == []


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
    gt.run("nsenter", f"--net={ns}", "ip", "link", "set", "vxlan0", "down")
    try:
        assert not ping_across()
        assert "nxoverlay" in checks_found("overlay-vxlan")
    finally:
        gt.run("nsenter", f"--net={ns}", "ip", "link", "set", "vxlan0", "up")
    assert checks_found("overlay-vxlan") == []
    assert ping_across()


def test_doctor_peer_missing_from_the_fdb_for_real(swarm: None) -> None:
    net = json.loads(st.docker(1, "network", "inspect", st.OVERLAY))[0]
    ns = st.overlay_namespace(1, net["Id"])
    entries = [e for e in st.namespace_truth(ns)["fdb"] if e.get("dst") == st.NODE2_ADDR]
    assert entries
    for e in entries:
        gt.run(
            "nsenter",
            f"--net={ns}",
            "bridge",
            "fdb",
            "del",
            e["mac"],
            "dev",
            e["ifname"],
            "dst",
            e["dst"],
            "self",
        )
    try:
        assert "nxoverlay" in checks_found("overlay-fdb")
    finally:
        for e in entries:
            gt.run(
                "nsenter",
                f"--net={ns}",
                "bridge",
                "fdb",
                "append",
                e["mac"],
                "dev",
                e["ifname"],
                "dst",
                e["dst"],
                "self",
                "permanent",
            )
    assert checks_found("overlay-fdb") == []
    assert ping_across()
