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
