"""The path through the swarm's ingress routing mesh deciding on ingress_sbox's
routes and forwarding as read there, on the one-node swarm recorded in the kernel
VM by tests/recorded/ingress/record.sh --into routes (with IPVS; ground truth:
each Docker namespace's ``ip -j route show table all`` and ip_forward, checked in
tests/unit/test_docker_netns_routes.py). Two faults are made by editing that
recording minimally, each test says how. The older recording
tests/recorded/ingress/snapshot.json has no routes of Docker's namespaces: there
the path derives them and says so.
"""

from __future__ import annotations

import copy
import ipaddress
from pathlib import Path
from typing import Any

from netexplorer.correlate import correlate
from netexplorer.ipvs import parse_ip_vs
from netexplorer.model import DockerNamespace, Snapshot
from netexplorer.path import PathResult, trace_path
from netexplorer.snapshot_io import load_snapshot

RECORDED = Path(__file__).resolve().parents[1] / "recorded"
VM = RECORDED / "ingress" / "routes"
OLDER = RECORDED / "ingress" / "snapshot.json"
NODE = "198.51.100.17"
PUBLISHED = 8081


def vm_snapshot() -> Snapshot:
    return load_snapshot(VM / "snapshot.json")


def sbox(snap: Snapshot) -> DockerNamespace:
    return next(ns for ns in snap.namespaces if ns.name == "ingress_sbox")


# ------------------------------------------------------------------ the path
def path(snap: Snapshot, task: str | None = None) -> PathResult:
    return trace_path(snap, correlate(snap), "internet", f"{NODE}:{PUBLISHED}", task=task)


def sbox_routes(hops: Any) -> list[Any]:
    return [h for h in hops if h.kind == "route" and h.title.startswith("route in ingress_sbox")]


def real_servers(snap: Snapshot) -> list[str]:
    """The addresses IPVS's real servers have in ingress_sbox (the tasks')."""
    ipvs = sbox(snap).ipvs
    assert ipvs is not None
    return [d.address for s in parse_ip_vs(ipvs) for d in s.dests]


def test_path_through_the_mesh_decides_on_the_routes_read() -> None:
    snap = vm_snapshot()
    res = path(snap)
    assert res.verdict == "delivered" and res.reply_verdict == "delivered", res.sentence
    hops = sbox_routes(res.hops) + sbox_routes(res.reply)
    assert len(hops) == 3  # to its own address, to the real server, the reply out
    assert all("routes not read" not in h.detail for h in hops)
    main = [r for r in sbox(snap).routes if r.table == 254 and r.family == "inet"]
    # the route to the real server: ingress_sbox's route of its overlay leg, as read
    to_task = hops[1].title.split(": ", 1)[1]
    server = to_task.split()[0]
    assert server in real_servers(snap)
    leg = next(
        r
        for r in main
        if r.dst != "default" and ipaddress.ip_address(server) in ipaddress.ip_network(r.dst)
    )
    assert to_task == f"{server} dev {leg.dev} src {leg.prefsrc}"
    # the reply: by its default route, as read
    default = next(r for r in main if r.dst == "default")
    assert sbox_routes(res.reply)[0].title.endswith(
        f"203.0.113.1 via {default.gateway} dev {default.dev} src "
        f"{next(r.prefsrc for r in main if r.dev == default.dev and r.prefsrc)}"
    )


def test_older_snapshot_path_derives_the_routes_and_says_so() -> None:
    res = path(load_snapshot(OLDER))
    assert res.verdict == "delivered", res.sentence
    hops = sbox_routes(res.hops)
    assert hops and all("routes not read" in h.detail for h in hops)


def without_route_to_the_real_servers(snap: Snapshot) -> Snapshot:
    """The recorded snapshot edited minimally: ingress_sbox's main-table routes that
    hold the real servers' addresses (its overlay leg's connected route, and the
    default route) deleted, as an operator's ``ip route del`` would; nothing else."""
    edited = copy.deepcopy(snap)
    ns = sbox(edited)
    servers = [ipaddress.ip_address(a) for a in real_servers(edited)]

    def holds(dst: str) -> bool:
        net = ipaddress.ip_network("0.0.0.0/0" if dst == "default" else dst)
        return any(s in net for s in servers)

    kept = [r for r in ns.routes if not (r.table == 254 and holds(r.dst))]
    assert len(ns.routes) - len(kept) == 2
    ns.routes = kept
    return edited


def test_no_route_to_the_real_server_ends_in_ingress_sbox_naming_it() -> None:
    snap = without_route_to_the_real_servers(vm_snapshot())
    res = path(snap)
    assert res.verdict == "no-route"
    last = res.hops[-1]
    assert last.kind == "route" and last.title.startswith("route in ingress_sbox: ")
    server = last.title.split(": ", 1)[1].split(":")[0]
    assert server in real_servers(snap) and last.title.endswith(f"{server}: no route")
    assert f"no-route: ingress_sbox has no route to the real server {server}:" in res.sentence
    # the fix names the route the overlay leg should have, in the namespace's path
    assert "ip route replace 10.0.0.0/24 dev eth0 src 10.0.0.2" in res.sentence
    assert f"--net={sbox(snap).path}" in res.sentence


def test_ingress_sbox_not_forwarding_stops_the_reply_there() -> None:
    """The recorded snapshot with ingress_sbox's ip_forward read as 0 (one value
    edited): the request arrives (IPVS sends it out, nothing forwarded), the reply
    IPVS must see at FORWARD is not forwarded."""
    snap = copy.deepcopy(vm_snapshot())
    assert sbox(snap).sysctls["net.ipv4.ip_forward"] == "1"
    sbox(snap).sysctls["net.ipv4.ip_forward"] = "0"
    res = path(snap)
    assert res.verdict == "delivered"
    assert res.reply_verdict == "forwarding-disabled"
    assert res.reply[-1].title.startswith("ingress_sbox: not forwarded (net.ipv4.ip_forward=0")
    assert "sysctl -w net.ipv4.ip_forward=1" in res.sentence
