"""Docker's native nftables layout for real, in scratch network namespaces (root needed).

The hand-written docker-bridges fixture (tests/recorded/nft-native/docker-bridges.nft,
in the shape Docker 29 writes with --firewall-backend=nftables) is loaded with
``nft -f`` into a fresh netns ``nxnf-<hex>``, some local traffic moves counters, and
the collector run inside that netns (``python -m netexplorer.collect.firewall``)
must agree with ``nft -j list ruleset`` read there independently: the same rules
per chain, in handle order, with the same counters. The host's ruleset is never
touched; the netns is deleted in every case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from integration.scratch_netns import collect, move_counters, netns_fixture, settle, sh
from netexplorer.correlate import correlate
from netexplorer.doctor import diagnose
from netexplorer.model import Snapshot
from netexplorer.snapshot_io import snapshot_from_dict

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "tests" / "recorded"
FIXTURE = RECORDED / "nft-native" / "docker-bridges.nft"
IPTABLES_NFT = RECORDED / "firewall" / "host-iptables-nft-save-c.txt"
TOOLS = ["ip", "nft", "iptables-nft-restore", "iptables-nft-save"]
MASQ = 'oifname != "docker0" ip saddr 172.17.0.0/16 counter masquerade comment "MASQUERADE"'
DNAT = 'iifname != "docker0" tcp dport 8080 counter dnat to 172.17.0.4:80 comment "DNAT"'
V6_BRIDGE = "br-c27dd5d67fdf"  # the fixture's dual-stack network (tests/recorded/modes)
MASQ6 = (
    f'oifname != "{V6_BRIDGE}" ip6 saddr fd00:6e78:ec::/64 counter masquerade comment "MASQUERADE"'
)
DNAT6 = (
    f'iifname != "{V6_BRIDGE}" ip6 saddr != fe80::/10 tcp dport 28080 counter '
    'dnat to [fd00:6e78:ec::2]:80 comment "DNAT"'
)
#: docker-bridges' rules in the fixture: 31 in table ip, 15 in table ip6
RULES, RULES6 = 46, 15


netns = netns_fixture("nxnf", TOOLS, "iproute2 nftables iptables")


def load(ns: str, with_iptables_nft: bool = False) -> None:
    if with_iptables_nft:
        sh(ns, "iptables-nft-restore", stdin=IPTABLES_NFT.read_text())
    sh(ns, "nft", "-f", str(FIXTURE))


def nft_json(ns: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = json.loads(sh(ns, "nft", "-j", "list", "ruleset"))["nftables"]
    return objects


FAMILY = {"ip": "ipv4", "ip6": "ipv6"}


def truth(ns: str) -> list[tuple[Any, ...]]:
    """(family, chain, handle, packets, bytes) of docker-bridges' rules in nft's order,
    read from ``nft -j`` without netexplorer."""
    out = []
    for obj in nft_json(ns):
        rule = obj.get("rule")
        if rule is None or rule["table"] != "docker-bridges":
            continue
        counter: dict[str, int] = next((e["counter"] for e in rule["expr"] if "counter" in e), {})
        out.append(
            (
                FAMILY[rule["family"]],
                rule["chain"],
                rule["handle"],
                counter.get("packets", 0),
                counter.get("bytes", 0),
            )
        )
    return out


def collected(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (r["family"], r["chain"], r["handle"], r["packets"], r["bytes"])
        for r in data["rules"]
        if r["backend"] == "nftables"
    ]


def test_collector_equals_nft(netns: str) -> None:
    load(netns)
    move_counters(netns)
    settle(lambda: nft_json(netns))
    data = collect(netns)
    assert data["errors"] == {}
    want = truth(netns)
    assert len(want) == RULES
    assert len([r for r in want if r[0] == "ipv6"]) == RULES6
    assert collected(data) == want
    assert any(r[3] for r in want), "traffic should have moved a counter"
    per_chain: dict[tuple[str, str], list[int]] = {}
    for r in data["rules"]:
        per_chain.setdefault((r["family"], r["chain"]), []).append(r["position"])
    assert all(p == list(range(1, len(p) + 1)) for p in per_chain.values())
    assert {(r["backend"], r["table"]) for r in data["rules"]} == {("nftables", "docker-bridges")}
    assert data["backends"] == ["nftables"]
    texts = {(r["family"], r["text"]) for r in data["rules"]}
    assert {("ipv4", MASQ), ("ipv4", DNAT), ("ipv6", MASQ6), ("ipv6", DNAT6)} <= texts
    masq6 = next(r for r in data["rules"] if r["text"] == MASQ6)
    assert (masq6["chain"], masq6["chain_interface"], masq6["chain_interface_dir"]) == (
        "nat-postrouting-out__" + V6_BRIDGE,
        V6_BRIDGE,
        "in",
    )
    ids = [r["id"] for r in data["rules"]]
    assert len(set(ids)) == len(ids)


def test_iptables_nft_tables_are_not_counted_twice(netns: str) -> None:
    load(netns, with_iptables_nft=True)
    data = collect(netns)
    assert data["errors"] == {}
    assert collected(data) == truth(netns)
    save = sh(netns, "iptables-nft-save")
    ipt_rules = [ln for ln in save.splitlines() if ln.startswith("-A ")]
    got_ipt = [r for r in data["rules"] if r["backend"] == "iptables-nft"]
    assert len(got_ipt) == len(ipt_rules) > 0
    native = [r for r in data["rules"] if r["backend"] == "nftables"]
    assert {r["table"] for r in native} == {"docker-bridges"}
    assert len(native) == RULES
    assert data["backends"] == ["iptables-nft", "nftables"]


def test_empty_netns_has_no_native_rules_and_no_errors(netns: str) -> None:
    data = collect(netns)
    assert data["errors"] == {} and data["backends"] == []
    assert not [r for r in data["rules"] if r["backend"] == "nftables"]
    assert sh(netns, "nft", "list", "ruleset") == "", "reading must not create tables"


def test_collected_native_rules_correlate_like_iptables_ones(netns: str) -> None:
    """The lab as recorded (containers, networks, interfaces), its rules replaced by
    the native ones collected from the netns: the same cross-links as with iptables."""
    load(netns)
    data = collect(netns)
    doc = json.loads((RECORDED / "lab" / "nft.snapshot.json").read_text())
    doc["rules"], doc["chains"] = data["rules"], data["chains"]
    doc["firewall_backends"] = data["backends"]
    snap = snapshot_from_dict(doc)
    corr = correlate(snap)
    links = corr.links
    rule = {(r.chain, r.text): r for r in snap.rules}
    masq = rule[("nat-postrouting-out__docker0", MASQ)]
    dnat = rule[("nat-prerouting-and-output", DNAT)]
    cts = {c.name: c for c in snap.containers}
    assert masq.id in corr.wiring(cts["test1"].endpoints[0]).rules
    assert masq.key in links.related(cts["test1"].key)
    assert list(corr.rule_containers[masq.id]) == ["test1", "test2", "web"]
    assert list(corr.rule_containers[dnat.id]) == ["web"]
    assert dnat.key in links.related(cts["web"].key)
    assert dnat.key not in links.related(cts["db"].key)


def native_lab(ns: str) -> Snapshot:
    """The recorded lab, its rules replaced by the native ones collected in ``ns``."""
    data = collect(ns)
    doc = json.loads((RECORDED / "lab" / "nft.snapshot.json").read_text())
    doc["rules"], doc["chains"] = data["rules"], data["chains"]
    doc["firewall_backends"] = data["backends"]
    return snapshot_from_dict(doc)


def map_targets(ns: str, family: str, name: str) -> set[str]:
    """Chains the elements of map ``name`` jump to, from ``nft -j`` (no netexplorer)."""
    for obj in nft_json(ns):
        m = obj.get("map")
        if m and m["table"] == "docker-bridges" and m["family"] == family and m["name"] == name:
            return {e[1]["jump"]["target"] for e in m.get("elem", [])}
    raise AssertionError(f"no map {name}")


def test_a_chain_cut_from_its_map_is_found_and_the_doctors_fix_reconnects_it(netns: str) -> None:
    load(netns)
    assert diagnose(native_lab(netns)) == []
    chain = "nat-postrouting-out__docker0"
    sh(netns, "nft", "delete", "element", "ip", "docker-bridges", "nat-postrouting-out-jumps",
       '{ "docker0" }')  # fmt: skip
    assert chain not in map_targets(netns, "ip", "nat-postrouting-out-jumps")

    snap = native_lab(netns)
    cut = [r for r in snap.rules if r.unreached]
    assert [(r.family, r.chain, r.text) for r in cut] == [("ipv4", chain, MASQ)]
    # still shown and linked to its bridge, but the doctor says it never runs
    assert list(correlate(snap).rule_containers[cut[0].id]) == ["test1", "test2", "web"]
    (f,) = diagnose(snap)
    assert (f.check, f.subject) == ("unreached-chain", f"ip/{chain}")
    assert {cut[0].key, "br:docker0"} <= set(f.evidence)
    command = f.fix.splitlines()[0]
    assert command == (
        'nft add element ip docker-bridges nat-postrouting-out-jumps { "docker0" : jump '
        f"{chain} }}"
    )

    sh(netns, "nft", "-f", "-", stdin=command.removeprefix("nft ") + "\n")
    assert chain in map_targets(netns, "ip", "nat-postrouting-out-jumps")
    again = native_lab(netns)
    assert not [r for r in again.rules if r.unreached]
    assert diagnose(again) == []
