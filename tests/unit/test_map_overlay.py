"""The map of a swarm node, on the recorded two-node swarm (tests/recorded/swarm): each
overlay is br0 in its namespace, its containers joined by their veth there, and its
way out a VXLAN tunnel over the underlay to the peer node, checked against the
ground truth recorded with it (``ip -d -j link``, ``bridge -j fdb`` in the overlay
namespace, ``docker network inspect``). The text and JSON forms are read back here;
dot and mermaid through their parsers in test_map_export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netexplorer.correlate import correlate
from netexplorer.map.export import to_json
from netexplorer.map.layout import draw
from netexplorer.map.model import OVERLAY, HostMap, build_map
from netexplorer.overlay_peers import HostRead, far_key, join
from netexplorer.snapshot_io import load_snapshot

HERE = Path(__file__).resolve().parents[1] / "recorded" / "swarm"
TRUTH: dict[str, Any] = json.loads((HERE / "truth.json").read_text())
NODE_ADDR = {1: "198.51.100.17", 2: "198.51.100.18"}
UNDERLAY = {1: "nx-sw0", 2: "nx-sw1"}
CONTAINER = {1: "sw1", 2: "sw2"}


def node_map(node: int) -> HostMap:
    snap = load_snapshot(HERE / f"node{node}.snapshot.json")
    return build_map(snap, correlate(snap))


def truth_of(node: int) -> dict[str, Any]:
    entry: dict[str, Any] = TRUTH[f"node{node}"]["networks"]["nxoverlay"]
    return entry


@pytest.mark.parametrize("node", [1, 2])
def test_the_overlay_is_a_bus_whose_way_out_is_a_vxlan_tunnel_to_the_peer(node: int) -> None:
    hmap = node_map(node)
    truth = truth_of(node)
    bus = next(b for b in hmap.buses if b.network == "nxoverlay")
    assert bus.kind == OVERLAY and bus.device == f"br0 ({truth['namespace']})"
    vxlan = next(x for x in truth["ip_link"] if x.get("linkinfo", {}).get("info_kind") == "vxlan")
    data = vxlan["linkinfo"]["info_data"]
    peer = next(p for p in truth["inspect"]["Peers"] if p["IP"] == NODE_ADDR[3 - node])
    vteps = {e["dst"] for e in truth["fdb"] if e.get("dst")}
    t = bus.tunnel
    assert t is not None
    assert (t.vxlan, t.vni, t.port, t.underlay) == (
        vxlan["ifname"],
        data["id"],
        data["port"],
        UNDERLAY[node],
    )
    assert t.peers == ((peer["IP"], peer["Name"]),) and vteps == {peer["IP"]}
    # the container joined by its veth in the overlay namespace, once
    ct = next(c for c in hmap.containers if c.name == CONTAINER[node])
    eth0 = TRUTH["eth0"][CONTAINER[node]]
    port = next(x for x in truth["ip_link"] if x["ifindex"] == eth0["link_index"])
    (link,) = [lk for lk in ct.links if lk.bus_key == bus.key]
    assert (link.inside, link.label) == ("eth0", port["ifname"])
    assert ct.elsewhere == ()
    text = draw(hmap).text()
    assert (
        f"└─ VXLAN vxlan0 · VNI {data['id']} · UDP {data['port']} ─▶ {UNDERLAY[node]} ─▶ "
        f"{peer['IP']} (node {peer['Name']})" in text
    )
    assert f"br0 ({truth['namespace']}) · overlay network nxoverlay · VNI {data['id']}" in text


def test_json_edges_run_bus_vxlan_underlay_peer() -> None:
    hmap = node_map(1)
    doc = json.loads(to_json(hmap))
    bus = next(b for b in hmap.buses if b.network == "nxoverlay")
    assert bus.tunnel is not None
    vx, under = bus.tunnel.vxlan_key, bus.tunnel.underlay_key
    edges = {(e["from"], e["to"], e["kind"], e["label"]) for e in doc["edges"]}
    assert (bus.key, vx, "vxlan", "") in edges
    assert (vx, under, "underlay", "UDP 4789") in edges
    peer = f"map:peer:{NODE_ADDR[2]}"
    assert (under, peer, "tunnel", f"VNI {bus.tunnel.vni}") in edges
    kinds = {n["id"]: n["kind"] for n in doc["nodes"]}
    assert (kinds[vx], kinds[under], kinds[peer]) == ("vxlan", "interface", "peer")


def far_truth(node: int) -> tuple[str, str, str, str]:
    """(namespace, vxlan, br0, the veth of node's overlay container) from node's
    recorded ``ip -d -j link`` in its overlay namespace and the container's eth0."""
    truth = truth_of(node)
    kind = {x["ifname"]: x.get("linkinfo", {}).get("info_kind") for x in truth["ip_link"]}
    vxlan = next(n for n, k in kind.items() if k == "vxlan")
    bridge = next(n for n, k in kind.items() if k == "bridge")
    eth0 = TRUTH["eth0"][CONTAINER[node]]
    port = next(x["ifname"] for x in truth["ip_link"] if x["ifindex"] == eth0["link_index"])
    return truth["namespace"], vxlan, bridge, port


def two_host_map(node: int) -> tuple[HostMap, HostRead]:
    snaps = {n: load_snapshot(HERE / f"node{n}.snapshot.json") for n in (1, 2)}
    reads = {n: HostRead(f"node{n}", s, correlate(s)) for n, s in snaps.items()}
    here, there = reads[node], reads[3 - node]
    return build_map(here.read, here.correlation, join(here, [there]).ends), there


@pytest.mark.parametrize("node", [1, 2])
def test_with_both_nodes_open_the_tunnel_goes_on_to_the_far_vxlan_br0_veth_container(
    node: int,
) -> None:
    hmap, there = two_host_map(node)
    far = 3 - node
    ns, vxlan, bridge, port = far_truth(far)
    far_ct = next(c for c in there.read.containers if c.name == CONTAINER[far])
    far_ip = TRUTH["node" + str(far)]["networks"]["nxoverlay"]["inspect"]["Containers"]
    addr = next(v["IPv4Address"] for v in far_ip.values() if v["Name"] == CONTAINER[far])
    addr = addr.split("/")[0]
    peer = next(p for p in truth_of(node)["inspect"]["Peers"] if p["IP"] == NODE_ADDR[far])
    drawing = draw(hmap)
    row = (
        f"─▶ {UNDERLAY[node]} ─▶ {peer['IP']} (node {peer['Name']}) ═▶ node{far}: {vxlan} "
        f"─▶ {bridge} ─▶ {port} ─▶ {CONTAINER[far]} {addr}"
    )
    (line,) = [n for n, text in enumerate(drawing.lines) if text.endswith(row)]
    # each far item is drawn under its own far key (never one of this host's keys)
    keys = {r.key: drawing.lines[r.row][r.start : r.end] for r in drawing.regions if r.row == line}
    far_key_ct = far_key(f"node{far}", far_ct.key)
    assert keys[far_key_ct] == f"{CONTAINER[far]} {addr}"
    o = next(
        x for x in there.correlation.overlay.networks.values() if x.network.name == "nxoverlay"
    )
    assert o.vxlan is not None and o.bridge is not None
    assert keys[far_key(f"node{far}", o.vxlan.key)] == f"node{far}: {vxlan}"
    vni = truth_of(far)["inspect"]["Options"]["com.docker.network.driver.overlay.vxlanid_list"]
    label = f"{vxlan} (VNI {vni}) in {ns} on node{far}"
    assert hmap.labels[far_key(f"node{far}", o.vxlan.key)] == label
    assert keys[far_key(f"node{far}", o.bridge.key)] == bridge
    assert port in keys.values()
    assert hmap.labels[far_key_ct] == f"{CONTAINER[far]} ({addr}) on node{far}"
    # JSON: the tunnel edge ends at the far vxlan, which leads to the far container
    doc = json.loads(to_json(hmap))
    bus = next(b for b in hmap.buses if b.network == "nxoverlay")
    assert bus.tunnel is not None and bus.tunnel.underlay_key is not None
    edges = {(e["from"], e["to"], e["kind"]): e for e in doc["edges"]}
    far_vx = far_key(f"node{far}", o.vxlan.key)
    tunnel = edges[(bus.tunnel.underlay_key, far_vx, "tunnel")]
    assert tunnel["label"] == f"VNI {bus.tunnel.vni} to {peer['IP']} (node {peer['Name']})"
    assert edges[(far_vx, far_key_ct, "veth")]["label"] == f"{bridge} · {port}"
    assert f"map:peer:{peer['IP']}" not in {n["id"] for n in doc["nodes"]}


def test_one_host_alone_still_ends_at_the_peer_node() -> None:
    hmap = node_map(1)
    assert "═▶" not in draw(hmap).text()
