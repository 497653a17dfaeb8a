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
from netexplorer.overlay_peers import HostRead, far_ends
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
