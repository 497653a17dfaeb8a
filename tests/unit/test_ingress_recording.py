"""The swarm ingress mesh recorded in the kernel VM (tests/recorded/ingress, made by
its record.sh) against the ground truth recorded beside it.

The snapshot's rules of ingress_sbox and of each nxweb task are those that
``ip{,6}tables-*-save -c`` listed in the same namespace just before and just after
it (split here without netexplorer's parser: same texts and places, counters in
between); its IPVS text is ``/proc/net/ip_vs`` read there; each task's ingress
address is docker inspect's and is one of IPVS's real servers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from integration.scratch_netns import assert_counted_between, save_rules

from netexplorer.model import Chain, Container, Rule, Snapshot
from netexplorer.snapshot_io import load_snapshot

HERE = Path(__file__).resolve().parents[1] / "recorded" / "ingress"
TRUTH = HERE / "truth"
#: (backend, family) -> the save tool whose output is recorded
TOOLS = {
    ("iptables-nft", "ipv4"): "iptables-nft-save",
    ("iptables-nft", "ipv6"): "ip6tables-nft-save",
    ("iptables-legacy", "ipv4"): "iptables-legacy-save",
    ("iptables-legacy", "ipv6"): "ip6tables-legacy-save",
}


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    return load_snapshot(HERE / "snapshot.json")


def _truth(when: str, prefix: str, key: tuple[str, str]) -> tuple[list[Any], list[Any]]:
    return save_rules((TRUTH / when / f"{prefix}.{TOOLS[key]}.txt").read_text())


def _assert_as_recorded(rules: list[Rule], chains: list[Chain], prefix: str, netns: str) -> None:
    assert {r.netns for r in rules} == {netns}
    assert {c.netns for c in chains} == {netns}
    for key in TOOLS:
        got = (
            [
                (r.table, r.chain, r.position, r.text, r.packets, r.bytes)
                for r in rules
                if (r.backend, r.family) == key
            ],
            [
                (c.table, c.name, c.policy, c.packets, c.bytes)
                for c in chains
                if (c.backend, c.family) == key
            ],
        )
        low, high = _truth("before", prefix, key), _truth("after", prefix, key)
        for mine, lo, hi in zip(got, low, high, strict=True):
            assert_counted_between(mine, lo, hi)


def _tasks(snap: Snapshot) -> list[Container]:
    return [
        ct for ct in snap.containers if ct.labels.get("com.docker.swarm.service.name") == "nxweb"
    ]


def test_ingress_sbox_rules_are_the_recorded_ones(snap: Snapshot) -> None:
    sbox = next(ns for ns in snap.namespaces if ns.name == "ingress_sbox")
    assert sbox.error is None and sbox.rules
    _assert_as_recorded(sbox.rules, sbox.chains, "ns.ingress_sbox", "ingress_sbox")
    # the published port is marked, and what IPVS sends on is SNATed
    marks = [r for r in sbox.rules if r.table == "mangle" and r.target == "MARK"]
    assert any(r.dport == "8081" and r.chain == "PREROUTING" for r in marks)
    assert any(r.target == "SNAT" and "ipvs" in r.matches for r in sbox.rules)


def test_each_task_rules_are_the_recorded_ones(snap: Snapshot) -> None:
    tasks = _tasks(snap)
    assert len(tasks) == 2
    for ct in tasks:
        assert ct.inside is not None and ct.inside.error is None
        _assert_as_recorded(ct.inside.rules, ct.inside.chains, f"ct.{ct.name}", f"ct:{ct.id}")
        inspect = json.loads((TRUTH / f"ct.{ct.name}.inspect.json").read_text())[0]
        ingress_ip = inspect["NetworkSettings"]["Networks"]["ingress"]["IPAddress"]
        redirect = [r for r in ct.inside.rules if r.target == "REDIRECT"]
        assert [(r.destination, r.dport, r.target_options) for r in redirect] == [
            (f"{ingress_ip}/32", "8081", {"--to-ports": "80"})
        ]
    others = [ct for ct in snap.containers if ct not in tasks]
    assert others and all(ct.inside is None or not ct.inside.rules for ct in others)


def test_ipvs_text_is_the_recorded_one(snap: Snapshot) -> None:
    sbox = next(ns for ns in snap.namespaces if ns.name == "ingress_sbox")
    recorded = {(TRUTH / w / "ns.ingress_sbox.ip_vs.txt").read_text() for w in ("before", "after")}
    assert sbox.ipvs in recorded
    # each task's ingress address (docker inspect) is a real server, in hex
    for ct in _tasks(snap):
        inspect = json.loads((TRUTH / f"ct.{ct.name}.inspect.json").read_text())[0]
        address = inspect["NetworkSettings"]["Networks"]["ingress"]["IPAddress"]
        hexaddr = "".join(f"{int(part):02X}" for part in address.split("."))
        assert f"-> {hexaddr}:0000" in (sbox.ipvs or "")


def test_the_request_went_through_the_mesh() -> None:
    assert (TRUTH / "http.txt").read_text().startswith("HTTP/1.")


def _texts(rules: list[Rule]) -> list[tuple[str, str, int, str]]:
    return [(r.table, r.chain, r.position, r.text) for r in rules]


def test_scaled_to_zero_the_port_is_gone() -> None:
    """nxweb scaled to 0: Docker removes the port from the mesh (no MARK rule, no IPVS
    service, no host DNAT) as the recorded tables show."""
    snap = load_snapshot(HERE / "scaled0.snapshot.json")
    assert _tasks(snap) == []
    sbox = next(ns for ns in snap.namespaces if ns.name == "ingress_sbox")
    truth = _truth("scaled0", "ns.ingress_sbox", ("iptables-nft", "ipv4"))[0]
    nft = [r for r in sbox.rules if r.backend == "iptables-nft"]
    assert [(r.table, r.chain, r.position, r.text) for r in nft] == [t[:4] for t in truth]
    assert not [r for r in sbox.rules if r.target == "MARK"]
    assert sbox.ipvs == (TRUTH / "scaled0" / "ns.ingress_sbox.ip_vs.txt").read_text()
    assert not [r for r in snap.rules if r.chain == "DOCKER-INGRESS" and r.target == "DNAT"]


def test_without_ipvs() -> None:
    """The same swarm on a kernel without IPVS (no-ipvs/, recorded on the sandbox):
    ingress_sbox has no IPVS table and no MARK rule, the tasks still REDIRECT."""
    here = HERE / "no-ipvs"
    snap = load_snapshot(here / "snapshot.json")
    sbox = next(ns for ns in snap.namespaces if ns.name == "ingress_sbox")
    assert sbox.ipvs is None
    assert "No such file" in (here / "truth" / "after" / "ns.ingress_sbox.ip_vs.txt").read_text()
    truth = save_rules(
        (here / "truth" / "after" / "ns.ingress_sbox.iptables-nft-save.txt").read_text()
    )
    assert _texts([r for r in sbox.rules if r.backend == "iptables-nft"]) == [
        t[:4] for t in truth[0]
    ]
    assert not [r for r in sbox.rules if r.target == "MARK"]
    tasks = _tasks(snap)
    assert len(tasks) == 2
    for ct in tasks:
        assert ct.inside is not None
        assert [r.dport for r in ct.inside.rules if r.target == "REDIRECT"] == ["8081"]
