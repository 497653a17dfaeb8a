"""Correlation on snapshots recorded from the lab, against ground truth recorded with them.

tests/recorded/lab/NAME.snapshot.json was written by ``netexplorer snapshot --json``
and NAME.truth.json at the same moment by ``docker exec``, ``bridge`` and
``iptables-save`` (see record.py there). Loading ignores the derived fields the
file also holds, so the checks below test correlate(), not the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netexplorer.correlate import Correlation, correlate, dnat_address, iface_matches
from netexplorer.model import Snapshot
from netexplorer.snapshot_io import snapshot_from_dict, snapshot_to_dict

LAB = Path(__file__).resolve().parents[1] / "recorded" / "lab"
MASQ_DEFAULT = "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"
RECORDINGS = ["nft", "legacy"]


def load(name: str) -> tuple[Snapshot, dict[str, Any]]:
    doc = json.loads((LAB / f"{name}.snapshot.json").read_text())
    truth = json.loads((LAB / f"{name}.truth.json").read_text())
    return snapshot_from_dict(doc), truth


@pytest.fixture(params=RECORDINGS)
def lab(request: pytest.FixtureRequest) -> tuple[Snapshot, Correlation, dict[str, Any]]:
    snap, truth = load(request.param)
    return snap, correlate(snap), truth


def ct(snap: Snapshot, name: str) -> Any:
    return next(c for c in snap.containers if c.name == name)


def rule(snap: Snapshot, text: str) -> Any:
    return next(r for r in snap.rules if r.text == text)


def test_each_endpoint_gets_the_veth_the_kernel_reported(lab: Any) -> None:
    snap, corr, truth = lab
    names = {link["ifindex"]: link["ifname"] for link in truth["ip_link"]}
    masters = {p["ifname"]: p["master"] for p in truth["bridge_link"] if "master" in p}
    for name, iflinks in truth["iflinks"].items():
        got = {corr.wiring(ep).host_ifindex for ep in ct(snap, name).endpoints}
        assert got == set(iflinks.values())
        for ep in ct(snap, name).endpoints:
            w = corr.wiring(ep)
            assert w.host_ifindex is not None and w.host_veth == names[w.host_ifindex]
            assert masters[w.host_veth] == w.bridge


def test_masquerade_of_the_default_bridge(lab: Any) -> None:
    snap, corr, truth = lab
    links = corr.links
    assert MASQ_DEFAULT in truth["iptables_save"]
    masq = rule(snap, MASQ_DEFAULT)
    assert list(corr.rule_containers[masq.id]) == ["test1", "test2", "web"]
    assert list(corr.rule_bridges[masq.id]) == ["docker0"]
    test1 = ct(snap, "test1")
    assert masq.id in corr.wiring(test1.endpoints[0]).rules
    # rule -> containers on the default bridge, their veths; not db, not other rules
    related = links.related(masq.key)
    assert {c.key for c in snap.containers if c.name != "db"} <= related
    assert ct(snap, "db").key not in related
    assert not {k for k in related if k.startswith("rule:")} - {masq.key}


def test_container_to_veth_port_bridge_and_rules(lab: Any) -> None:
    snap, corr, _ = lab
    links = corr.links
    test1, test2 = ct(snap, "test1"), ct(snap, "test2")
    related = links.related(test1.key)
    ep = corr.wiring(test1.endpoints[0])
    assert {f"if:{ep.host_ifindex}", "br:docker0", rule(snap, MASQ_DEFAULT).key} <= related
    assert f"if:{corr.wiring(test2.endpoints[0]).host_ifindex}" not in related
    assert test2.key not in related


def test_published_port_links_web_to_its_dnat(lab: Any) -> None:
    snap, corr, _ = lab
    links = corr.links
    dnat = next(r for r in snap.rules if r.target == "DNAT" and r.family == "ipv4")
    assert dnat.target_options["--to-destination"] == "172.17.0.4:80"
    assert list(corr.rule_containers[dnat.id]) == ["web"]
    assert dnat.key in links.related(ct(snap, "web").key)
    assert ct(snap, "web").key in links.related(dnat.key)


def test_a_veth_of_a_multi_homed_container_lights_only_its_networks_rules(lab: Any) -> None:
    snap, corr, _ = lab
    links = corr.links
    web = ct(snap, "web")
    lab_ep = corr.wiring(next(e for e in web.endpoints if e.network == "nxlab"))
    related = links.related(f"if:{lab_ep.host_ifindex}")
    assert web.key in related and f"br:{lab_ep.bridge}" in related
    texts = {r.text for r in snap.rules if r.key in related}
    assert f"-A POSTROUTING -s 172.30.0.0/24 ! -o {lab_ep.bridge} -j MASQUERADE" in texts
    assert MASQ_DEFAULT not in texts
    assert not any("DNAT" in t for t in texts)


def test_bridge_to_ports_and_containers(lab: Any) -> None:
    snap, corr, _ = lab
    links = corr.links
    related = links.related("br:docker0")
    docker0 = next(b for b in snap.bridges if b.name == "docker0")
    assert {p.key for p in docker0.ports} <= related
    assert {ct(snap, n).key for n in ("test1", "test2", "web")} <= related
    assert ct(snap, "db").key not in related


def test_per_port_accept_concerns_only_its_container(lab: Any) -> None:
    snap, corr, _ = lab
    accept = next(
        r
        for r in snap.rules
        if r.table == "filter" and r.chain == "DOCKER" and r.destination == "172.17.0.4/32"
    )
    assert list(corr.rule_containers[accept.id]) == ["web"]


def test_json_round_trip_correlates_the_same(lab: Any) -> None:
    snap, corr, _ = lab
    first = snapshot_to_dict(snap, corr)
    again = snapshot_from_dict(json.loads(json.dumps(first)))
    assert snapshot_to_dict(again) == first


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("172.17.0.4:80", "172.17.0.4"),
        ("[fd00::2]:80", "fd00::2"),
        ("172.17.0.4-172.17.0.9", "172.17.0.4"),
        ("10.0.0.1", "10.0.0.1"),
        ("bogus", None),
    ],
)
def test_dnat_address_forms(text: str, address: str | None) -> None:
    got = dnat_address(text)
    assert (str(got) if got else None) == address


def test_interface_wildcards() -> None:
    assert iface_matches("br-+", "br-abc") and iface_matches("docker0", "docker0")
    assert not iface_matches("docker0", "docker01") and not iface_matches("br-+", "docker0")
