"""The map's model and drawing on recorded snapshots (lab, every mode, macvlan/ipvlan).

The veths and bridges drawn are checked against the ground truth recorded with
each lab snapshot (``bridge -j link`` and the containers' iflinks).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.synth import synthetic_snapshot
from netexplorer.correlate import correlate
from netexplorer.map.layout import Drawing, default_folded, draw, sections
from netexplorer.map.model import HostMap, build_map
from netexplorer.snapshot_io import load_snapshot

RECORDED = Path(__file__).resolve().parents[1] / "recorded"
LAB = ["nft", "legacy", "nft-ip6tables"]


def map_of(path: Path) -> HostMap:
    snap = load_snapshot(path)
    return build_map(snap, correlate(snap))


def keys_at(drawing: Drawing, text: str) -> set[str]:
    """Keys of the regions whose text is ``text``."""
    return {r.key for r in drawing.regions if drawing.lines[r.row][r.start : r.end].strip() == text}


def line_with(drawing: Drawing, *words: str) -> str:
    found = [line for line in drawing.lines if all(w in line for w in words)]
    assert len(found) == 1, (words, found)
    return found[0]


@pytest.mark.parametrize("name", LAB)
def test_lab_veths_and_bridges_are_the_recorded_ground_truth(name: str) -> None:
    hmap = map_of(RECORDED / "lab" / f"{name}.snapshot.json")
    truth = json.loads((RECORDED / "lab" / f"{name}.truth.json").read_text())
    port_of = {p["ifindex"]: (p["ifname"], p["master"]) for p in truth["bridge_link"]}
    for ct in hmap.containers:
        expected = {port_of[i] for i in truth["iflinks"][ct.name].values()}
        drawn = {(lk.label, hmap.bus(lk.bus_key).device) for lk in ct.links}  # type: ignore[union-attr]
        assert drawn == expected, ct.name
    assert {c.name for c in hmap.containers} == set(truth["iflinks"])


def test_lab_drawing_is_the_tutorials_figure() -> None:
    hmap = map_of(RECORDED / "lab" / "nft.snapshot.json")
    d = draw(hmap)
    text = d.text()
    for name in ("test1", "test2", "web", "db"):
        assert len(keys_at(d, name)) == 1, name  # each container drawn once
    truth = json.loads((RECORDED / "lab" / "nft.truth.json").read_text())
    for port in truth["bridge_link"]:
        # the veth's line ends on its bridge's bus, the column its header starts at
        line = line_with(d, f" {port['ifname']} ")
        header = min(r for r in d.regions if r.key == f"br:{port['master']}")
        assert line[header.start] == "┤", line
        after = line.index(f" {port['ifname']} ") + len(port["ifname"]) + 2
        assert set(line[after : header.start]) == {"─"}, line
    nat = line_with(d, "MASQUERADE 172.17.0.0/16")
    assert nat.rstrip().endswith("─▶ eth0 ─▶ internet")
    assert "└─ MASQUERADE 172.17.0.0/16 · " in nat
    # web: a published port coming in through its DNAT rule, two networks
    port = line_with(d, "0.0.0.0:8080")
    assert port.startswith("eth0 0.0.0.0:8080 ─▶ DNAT ")
    dnat = next(r for r in d.regions if r.row == d.lines.index(port) and r.key.startswith("rule:"))
    rule = next(r for r in load_snapshot(RECORDED / "lab" / "nft.snapshot.json").rules
                if r.key == dnat.key)  # fmt: skip
    assert rule.target == "DNAT" and "--dport 8080" in rule.text
    web = next(c for c in hmap.containers if c.name == "web")
    assert {hmap.bus(lk.bus_key).network for lk in web.links} == {"bridge", "nxlab"}  # type: ignore[union-attr]
    assert "egress eth0" in text


def test_every_mode_is_placed() -> None:
    hmap = map_of(RECORDED / "modes" / "healthy.snapshot.json")
    d = draw(hmap)
    text = d.text()
    multi = next(c for c in hmap.containers if c.name == "nxt-rec-multi")
    assert len(multi.links) == 3 and len(keys_at(d, "nxt-rec-multi")) == 1
    # the container: sidecar sits inside its owner's box
    sidecar = line_with(d, "nxt-rec-shared")
    assert sidecar.lstrip().startswith("│ + nxt-rec-shared (shares its netns)")
    assert [s.name for s in multi.sidecars] == ["nxt-rec-shared"]
    # host network, none, internal, macvlan
    assert [c.name for c in hmap.host_containers] == ["nxt-rec-host"]
    assert "┌ host network (the host's own interfaces)" in text
    assert [c.name for c in hmap.alone] == ["nxt-rec-none"]
    assert "nxt-rec-none: no network (none)" in text
    assert "└─ internal: no way out" in line_with(d, "no way out")
    mv = next(b for b in hmap.buses if b.network == "nxt-rec-mv")
    assert (mv.kind, mv.device, mv.mode) == ("child", "nxt-rec-p0", "bridge")
    assert "── macvlan bridge ──┤" in line_with(d, "10.99.78.2")
    assert "out through the parent nxt-rec-p0" in text
    # IPv6: the address inside the container and the network's v6 subnet
    assert "fd00:6e78:ec::2" in text and "fd00:6e78:ec::/64" in text
    # a published port on 127.0.0.1 comes in on lo
    assert line_with(d, "127.0.0.1:28080").startswith("lo 127.0.0.1:28080 ─▶ DNAT ")


def test_a_missing_dnat_rule_is_said() -> None:
    d = draw(map_of(RECORDED / "modes" / "broken.snapshot.json"))
    assert "no DNAT rule" in line_with(d, "127.0.0.1:28080")


def test_ipvlan_and_macvlan_hang_off_their_parents() -> None:
    hmap = map_of(RECORDED / "kernel-vm" / "children.snapshot.json")
    children = [b for b in hmap.buses if b.kind == "child"]
    assert {b.driver for b in children} == {"macvlan", "ipvlan"}
    for bus in children:
        assert bus.device_key is not None and bus.nat == ()
    d = draw(hmap)
    assert "│ nxr-p2 (parent) · ipvlan l3 network nxr-ipvlan-l3 · 10.99.79.0/24 │" in d.text()
    assert "── ipvlan l3 ──┤" in line_with(d, "10.99.79.2")
    assert "└─ ipvlan: no Docker NAT; out through the parent nxr-p2" in d.text()
    parent = next(r for r in d.regions if d.lines[r.row][r.start : r.end] == "nxr-p2")
    assert parent.key.startswith("if:")


def test_many_networks_fold_and_open_one_at_a_time() -> None:
    snap = synthetic_snapshot(containers=1000, interfaces=2000, rules=5000, per_network=5)
    hmap = build_map(snap, correlate(snap))
    assert len(hmap.buses) > 200
    folded = default_folded(hmap)
    assert folded == {b.key for b in hmap.buses}
    d = draw(hmap, folded)
    assert d.lines[2].startswith(f"folded networks ({len(hmap.buses)}; Enter opens one):")
    assert len(d.lines) < len(hmap.buses) + 10
    one = hmap.buses[5]
    opened = draw(hmap, folded - {one.key})
    [(buses, cts)] = sections(hmap, folded - {one.key})
    assert [b.key for b in buses] == [one.key] and len(cts) == one.members == 5
    # a container's line to a folded network says where it goes
    assert "▶ docker0 (folded)" in opened.text()


def test_inside_names_and_egress_from_a_read_with_routes_and_container_views() -> None:
    """The path recording holds the host's routes and each container's own view."""
    hmap = map_of(RECORDED / "path" / "lab-nft.snapshot.json")
    web = next(c for c in hmap.containers if c.name == "web")
    inside = {hmap.bus(lk.bus_key).network: lk.inside for lk in web.links}  # type: ignore[union-attr]
    assert inside == {"bridge": "eth0", "nxlab": "eth1"}
    assert hmap.egress is not None and hmap.egress.name == "eth0"
    assert hmap.egress.basis == "default route via 192.0.2.1"
    d = draw(hmap)
    assert "│ eth1 172.30.0.2 " in line_with(d, "172.30.0.2")
    assert "egress eth0: default route via 192.0.2.1" in d.lines
    assert line_with(d, "MASQUERADE 172.17.0.0/16").endswith("─▶ eth0 ─▶ internet")


def test_without_routes_the_egress_is_a_deduction_said_so() -> None:
    hmap = map_of(RECORDED / "lab" / "nft.snapshot.json")
    assert hmap.egress is not None and "no routes read" in hmap.egress.basis
    children = map_of(RECORDED / "kernel-vm" / "children.snapshot.json")
    assert children.egress is None
    assert "egress: unknown (no routes read" in draw(children).text()
