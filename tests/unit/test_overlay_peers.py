"""Tunnels across two hosts being explored, on the two recorded swarm nodes
(tests/recorded/swarm), checked against the ground truth recorded with them (each
overlay namespace's ``bridge -j fdb`` and ``ip -d -j link``, ``docker inspect``).
The same join over two live ssh sessions is in tests/integration/test_swarm.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netexplorer.correlate import correlate
from netexplorer.overlay_peers import HostRead, far_ends, far_key, join
from netexplorer.snapshot_io import load_snapshot

HERE = Path(__file__).resolve().parents[1] / "recorded" / "swarm"
TRUTH: dict[str, Any] = json.loads((HERE / "truth.json").read_text())
CONTAINER = {1: ("sw1", "10.200.0.11"), 2: ("sw2", "10.200.0.12")}


def host(node: int) -> HostRead:
    snap = load_snapshot(HERE / f"node{node}.snapshot.json")
    return HostRead(f"node{node}", snap, correlate(snap))


@pytest.mark.parametrize("node", [1, 2])
def test_each_tunnels_far_end_is_the_other_hosts_vxlan_and_container(node: int) -> None:
    here, there = host(node), host(3 - node)
    ends = far_ends(here, [there])
    truth_here = TRUTH[f"node{node}"]["networks"]["nxoverlay"]
    truth_there = TRUTH[f"node{3 - node}"]["networks"]["nxoverlay"]
    vtep = next(e["dst"] for e in truth_here["fdb"] if e.get("dst"))
    assert vtep in {
        a["local"] for i in TRUTH[f"node{3 - node}"]["host_links"] for a in i["addr_info"]
    }
    far_vxlan = next(
        x["ifname"]
        for x in truth_there["ip_link"]
        if x.get("linkinfo", {}).get("info_kind") == "vxlan"
    )
    o = next(x for x in here.correlation.overlay.networks.values() if x.network.name == "nxoverlay")
    assert o.vxlan is not None
    (end,) = [e for e in ends[o.vxlan.key] if e.network == "nxoverlay"]
    far_o = next(
        x for x in there.correlation.overlay.networks.values() if x.network.name == "nxoverlay"
    )
    assert far_o.vxlan is not None and far_o.namespace is not None
    assert (end.vtep, end.host, end.vxlan, end.vxlan_key, end.namespace) == (
        vtep,
        f"node{3 - node}",
        far_vxlan,
        far_o.vxlan.key,
        truth_there["namespace"],
    )
    assert CONTAINER[3 - node] in end.containers
    # the local container's selection leads there too
    sw = next(c for c in here.read.containers if c.name == CONTAINER[node][0])
    assert end in ends[sw.key]
    name, addr = CONTAINER[3 - node]
    assert end.words() == (
        f"tunnel nxoverlay (VNI {o.vni}) to VTEP {vtep} = host node{3 - node}: "
        f"{far_vxlan} in {truth_there['namespace']}; {name} ({addr})"
        + "".join(f", {n} ({a})" for n, a in end.containers if n != name)
    )


def test_no_far_end_without_the_other_host() -> None:
    assert far_ends(host(1), []) == {}


@pytest.mark.parametrize("node", [1, 2])
def test_one_selection_reaches_across_the_tunnel(node: int) -> None:
    """The far container, selected, lights this host's vxlan, underlay interface and
    network, and its own veth, br0 and vxlan there; this host's vxlan lights them all.
    The far items' names are the recorded truth of the other node's namespace."""
    here, there = host(node), host(3 - node)
    joined = join(here, [there])
    links = joined.links(here.correlation.links)
    o = next(x for x in here.correlation.overlay.networks.values() if x.network.name == "nxoverlay")
    far_o = next(
        x for x in there.correlation.overlay.networks.values() if x.network.name == "nxoverlay"
    )
    assert o.vxlan is not None and o.underlay is not None
    assert far_o.vxlan is not None and far_o.bridge is not None
    name, addr = CONTAINER[3 - node]
    far_ct = there.correlation.containers_by_name[name]
    truth = TRUTH[f"node{3 - node}"]["networks"]["nxoverlay"]
    eth0 = TRUTH["eth0"][name]
    port_name = next(x["ifname"] for x in truth["ip_link"] if x["ifindex"] == eth0["link_index"])
    port = next(p.port for p in far_o.ports if p.port.name == port_name)
    there_name = f"node{3 - node}"
    fk = {k: far_key(there_name, k) for k in (far_ct.key, far_o.vxlan.key, far_o.bridge.key)}
    fk[port.key] = far_key(there_name, port.key)
    assert links.related(fk[far_ct.key]) >= {
        o.vxlan.key,
        o.underlay.key,
        o.network.key,
        fk[far_o.vxlan.key],
        fk[far_o.bridge.key],
        fk[port.key],
    }
    assert links.related(o.vxlan.key) >= set(fk.values())
    # this host's container on the overlay lights the far vxlan its packets arrive at
    near = here.correlation.containers_by_name[CONTAINER[node][0]]
    assert fk[far_o.vxlan.key] in links.related(near.key)
    assert fk[far_o.vxlan.key] not in here.correlation.links.related(near.key)
    assert links.labels[fk[far_ct.key]] == f"{name} ({addr}) on {there_name}"
    where = f"{truth['namespace']} on {there_name}"
    assert links.labels[fk[port.key]] == f"{port_name} on br0 in {where}"
    assert links.kind(fk[far_ct.key]) == "far"
    (end,) = [e for e in joined.ends[o.vxlan.key] if e.network == "nxoverlay"]
    assert links.notes[fk[far_ct.key]] == [end.words()]
    # the far keys are none of this host's own keys (the namespaces are named alike)
    assert not set(fk.values()) & set(here.correlation.links.labels)
    assert far_o.bridge.key in here.correlation.links.labels  # br0 is named alike on both
    # the read's own index is untouched
    assert fk[far_ct.key] not in here.correlation.links.labels


def test_nothing_joined_leaves_the_links_as_they_are() -> None:
    here = host(1)
    joined = join(here, [])
    assert joined.pairs == () and joined.links(here.correlation.links) is here.correlation.links
