"""macvlan and ipvlan (l2, l3) endpoints, correlated from a recording on Debian's kernel.

tests/recorded/kernel-vm/children.snapshot.json is ``netexplorer snapshot --json``
and children.truth.json what Docker and the kernel said at the same moment (``docker
inspect``, ``ip -j -d link`` inside each container and on the host), both written
by record.py there inside scripts/kernel-vm's VM: this sandbox's kernel has no
ipvlan. Loading ignores the derived fields the file also holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netexplorer.correlate import Correlation, correlate
from netexplorer.model import Snapshot
from netexplorer.snapshot_io import snapshot_from_dict, snapshot_to_dict

HERE = Path(__file__).resolve().parents[1] / "recorded" / "kernel-vm"


@pytest.fixture(scope="module")
def recorded() -> tuple[Snapshot, Correlation, dict[str, Any]]:
    snap = snapshot_from_dict(json.loads((HERE / "children.snapshot.json").read_text()))
    truth = json.loads((HERE / "children.truth.json").read_text())
    for ct in snap.containers:
        for ep in ct.endpoints:
            if ct.name in truth["containers"]:
                # what Docker said: a MAC for macvlan, none for ipvlan
                ep.mac = truth["containers"][ct.name]["docker_endpoint"]["MacAddress"] or None
    return snap, correlate(snap), truth


def test_every_child_hangs_off_the_parent_the_kernel_names(recorded: Any) -> None:
    snap, corr, truth = recorded
    links = corr.links
    host = {link["ifindex"]: link for link in truth["ip_link"]}
    assert len(truth["containers"]) == 3
    for name, fact in truth["containers"].items():
        (ct,) = [c for c in snap.containers if c.name == name]
        (ep,) = ct.endpoints
        w = corr.wiring(ep)
        # the child's IFLA_LINK, read inside its netns (whose peer netns id 0 is the host)
        assert fact["eth0"]["link_netnsid"] == 0
        parent = host[fact["eth0"]["link_index"]]
        assert (w.parent, w.parent_ifindex) == (parent["ifname"], parent["ifindex"])
        assert w.host_veth is None and w.bridge is None
        assert ep.ipv4 == fact["docker_endpoint"]["IPAddress"]
        # one hop in each direction: endpoint <-> parent interface <-> network
        net = next(n for n in snap.networks if n.name == fact["network"])
        assert {f"if:{parent['ifindex']}", net.key, ct.key} <= links.related(ep.key)
        assert {ep.key, ct.key, net.key} <= links.related(f"if:{parent['ifindex']}")
        assert not [m for m in [*snap.warnings, *corr.warnings] if name in m]


def test_driver_mode_and_mac_are_the_kernels(recorded: Any) -> None:
    snap, corr, truth = recorded
    kinds = set()
    for name, fact in truth["containers"].items():
        (ep,) = next(c for c in snap.containers if c.name == name).endpoints
        net = next(n for n in snap.networks if n.name == fact["network"])
        info = fact["eth0"]["linkinfo"]
        kinds.add((info["info_kind"], info["info_data"]["mode"]))
        assert net.driver == info["info_kind"]
        assert net.child_mode == info["info_data"]["mode"]
        # the MAC the container really sends with: Docker's for macvlan; for ipvlan,
        # where Docker reports none, the parent's (filled by correlation)
        assert corr.wiring(ep).mac == fact["eth0"]["address"]
    assert kinds == {("macvlan", "bridge"), ("ipvlan", "l2"), ("ipvlan", "l3")}


def test_json_names_the_mode_and_loads_back(recorded: Any) -> None:
    snap, _, truth = recorded
    doc = snapshot_to_dict(snap)
    modes = {n["name"]: n["child_mode"] for n in doc["networks"]}
    for fact in truth["containers"].values():
        assert modes[fact["network"]] == fact["eth0"]["linkinfo"]["info_data"]["mode"]
    assert modes["bridge"] is None
    again = snapshot_from_dict(json.loads(json.dumps(doc)))
    assert [n.child_mode for n in again.networks] == [n.child_mode for n in snap.networks]
    assert snapshot_to_dict(again)["networks"] == doc["networks"]
