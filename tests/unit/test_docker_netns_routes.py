"""Docker's own namespaces' routes, policy rules and forwarding, as read (the path
through the routing mesh deciding on them: tests/unit/test_path_mesh_routes.py).

Two recordings, each with the ground truth of ``ip`` read inside each namespace at
the same moment:

- tests/recorded/docker-netns (its record.py, on the lab's one-node swarm, a
  kernel without IPVS): the raw netlink dumps of each Docker namespace and what
  ``nsenter --net=<path> ip -j`` and ``cat /proc/sys/...`` print there;
- tests/recorded/ingress/routes (record.sh --into routes, in the kernel VM, with
  IPVS): the snapshot of the one-node swarm and, per Docker namespace,
  ``ip -j route show table all`` (``-6`` too), ``ip -j rule`` and
  ``/proc/sys/net/ipv4/ip_forward``.

The older recording tests/recorded/ingress/snapshot.json has no routes of Docker's
namespaces: it loads with them empty.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from netns_views import model_routes, model_rules, truth_routes, truth_rules

from netexplorer.collect.netlink_source import plain_from_json
from netexplorer.collect.overlay_source import NamespaceMessages, parse_namespace
from netexplorer.model import DockerNamespace, Snapshot
from netexplorer.snapshot_io import load_snapshot, snapshot_from_dict, snapshot_to_json

RECORDED = Path(__file__).resolve().parents[1] / "recorded"
LAB = RECORDED / "docker-netns"
VM = RECORDED / "ingress" / "routes"
OLDER = RECORDED / "ingress" / "snapshot.json"


# ------------------------------------------------------------------ the read, parsed
def lab_read() -> tuple[dict[str, DockerNamespace], dict[str, Any]]:
    raw = json.loads((LAB / "namespaces.json").read_text())
    spaces = {r["name"]: parse_namespace(NamespaceMessages(**plain_from_json(r))) for r in raw}
    return spaces, json.loads((LAB / "truth.json").read_text())


def test_lab_recording_has_the_swarm_namespaces() -> None:
    spaces, truth = lab_read()
    assert set(spaces) == set(truth)
    assert "ingress_sbox" in spaces and any(n.startswith("1-") for n in spaces)


@pytest.mark.parametrize("name", sorted(lab_read()[1]))
def test_parsed_routes_rules_and_forwarding_are_what_ip_says(name: str) -> None:
    spaces, truth = lab_read()
    ns, t = spaces[name], truth[name]
    assert ns.error is None
    assert model_routes(ns.routes) == truth_routes(t["ip4_route"], t["ip6_route"])
    assert model_rules(ns.ip_rules) == truth_rules(t["ip4_rule"], t["ip6_rule"])
    v4 = sorted(r.text() for r in ns.routes if r.family == "inet")
    assert v4 == sorted(t["ip4_route_text"])
    assert sorted(r.text() for r in ns.ip_rules) == sorted(t["ip_rule_text"])
    assert ns.sysctls == t["sysctls"]


def test_a_recording_without_routes_parses_to_none_read() -> None:
    """node1.namespaces.json (tests/recorded/swarm) as a dump made before routes, ip
    rules and sysctls were read: the same messages without those keys."""
    raw = json.loads((RECORDED / "swarm" / "node1.namespaces.json").read_text())
    assert all(r["routes"] for r in raw)  # the recording has them; the older dump not
    for r in raw:
        older = {k: v for k, v in r.items() if k not in ("routes", "rules", "sysctls")}
        ns = parse_namespace(NamespaceMessages(**plain_from_json(older)))
        assert ns.routes == [] and ns.ip_rules == [] and ns.sysctls == {}
        assert ns.interfaces == parse_namespace(NamespaceMessages(**plain_from_json(r))).interfaces


# ------------------------------------------------------------------ the VM's snapshot
def vm_snapshot() -> Snapshot:
    return load_snapshot(VM / "snapshot.json")


def sbox(snap: Snapshot) -> DockerNamespace:
    return next(ns for ns in snap.namespaces if ns.name == "ingress_sbox")


def test_vm_snapshot_routes_and_forwarding_are_what_ip_says() -> None:
    snap = vm_snapshot()
    truth = VM / "truth"
    names = {f.name.split(".")[1] for f in truth.glob("ns.*.route.json")}
    assert names == {ns.name for ns in snap.namespaces} and "ingress_sbox" in names
    for ns in snap.namespaces:
        ip4 = json.loads((truth / f"ns.{ns.name}.route.json").read_text())
        ip6 = json.loads((truth / f"ns.{ns.name}.route6.json").read_text())
        rules = json.loads((truth / f"ns.{ns.name}.rule.json").read_text())
        assert model_routes(ns.routes) == truth_routes(ip4, ip6), ns.name
        assert model_rules([r for r in ns.ip_rules if r.family == "inet"]) == truth_rules(rules, [])
        forward = (truth / f"ns.{ns.name}.ip_forward.txt").read_text().strip()
        assert ns.sysctls["net.ipv4.ip_forward"] == forward, ns.name


def test_json_round_trip_keeps_routes_and_forwarding() -> None:
    snap = vm_snapshot()
    again = snapshot_from_dict(json.loads(snapshot_to_json(snap)))
    assert again.namespaces == snap.namespaces
    assert sbox(again).routes and sbox(again).ip_rules and sbox(again).sysctls


def test_an_older_snapshot_loads_without_them() -> None:
    doc = json.loads(OLDER.read_text())
    assert all("routes" not in ns for ns in doc["namespaces"])
    old = load_snapshot(OLDER)
    assert all(ns.routes == [] and ns.sysctls == {} for ns in old.namespaces)
