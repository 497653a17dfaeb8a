"""Docker's native nftables rules (docker-bridges) from recorded ``nft`` output.

tests/recorded/nft-native holds real ``nft -j list ruleset`` / ``nft -a list
ruleset`` output of the hand-written docker-bridges fixture loaded into scratch
netns, once alone and once next to an iptables-nft Docker ruleset (see the
README there). The lab snapshot's rules are replaced by these to check that
correlation links them as it links Docker's iptables rules; for the IPv6 part
(table ip6 docker-bridges, the dual-stack network nxt-rec-v6) the recorded
network-modes snapshot's, which has that network and its IPv6 endpoint.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from netexplorer.collect.errors import SourceError
from netexplorer.collect.firewall import (
    NFT,
    NFTABLES,
    collect_firewall,
)
from netexplorer.collect.firewall import nft_native as nn
from netexplorer.collect.firewall import nft_parse as nparse
from netexplorer.collect.firewall.iptables_save import parse_iptables_save_with_problems
from netexplorer.correlate import correlate
from netexplorer.doctor import Finding, diagnose
from netexplorer.doctor.tables import docker_tables, rule_backends
from netexplorer.model import Endpoint, Rule, Snapshot
from netexplorer.snapshot_io import snapshot_from_dict

RECORDED = Path(__file__).resolve().parents[1] / "recorded"
NATIVE = RECORDED / "nft-native"
ALONE = "netns-docker-bridges"
BOTH = "netns-docker-bridges-and-iptables-nft"
LAB_BRIDGE = "br-7fe19de61a93"
MASQ = 'oifname != "docker0" ip saddr 172.17.0.0/16 counter masquerade comment "MASQUERADE"'
DNAT = 'iifname != "docker0" tcp dport 8080 counter dnat to 172.17.0.4:80 comment "DNAT"'
#: the dual-stack network nxt-rec-v6 of tests/recorded/modes (container nxt-rec-multi)
V6_BRIDGE = "br-c27dd5d67fdf"
V6_SUBNET = "fd00:6e78:ec::/64"
V6_ADDR = "fd00:6e78:ec::2"
MASQ6 = f'oifname != "{V6_BRIDGE}" ip6 saddr {V6_SUBNET} counter masquerade comment "MASQUERADE"'
MASQ_V4_OF_V6 = (
    f'oifname != "{V6_BRIDGE}" ip saddr 192.168.32.0/20 counter masquerade comment "MASQUERADE"'
)
DNAT6 = (
    f'iifname != "{V6_BRIDGE}" ip6 saddr != fe80::/10 tcp dport 28080 counter '
    f'dnat to [{V6_ADDR}]:80 comment "DNAT"'
)
DNAT_V4_OF_V6 = (
    f'iifname != "{V6_BRIDGE}" ip daddr 127.0.0.1 tcp dport 28080 counter '
    'dnat to 192.168.32.2:80 comment "DNAT"'
)
PORT6 = f"ip6 daddr {V6_ADDR} tcp dport 80 counter accept"


def recorded(name: str) -> tuple[dict[str, Any], str]:
    doc = json.loads((NATIVE / f"{name}.json").read_text())
    return doc, (NATIVE / f"{name}.txt").read_text()


def parsed(name: str = ALONE) -> tuple[list[Rule], list[Any]]:
    rules, chains, problems = nparse.parse_ruleset(*recorded(name))
    assert problems == []
    return rules, chains


def json_rules(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [o["rule"] for o in doc["nftables"] if "rule" in o]


def by_text(rules: list[Rule], chain: str, text: str, family: str = "ipv4") -> Rule:
    return next(r for r in rules if (r.family, r.chain, r.text) == (family, chain, text))


# --------------------------------------------------------------------------- parsing
def test_every_docker_rule_in_listing_order_with_positions_and_handles() -> None:
    doc, _ = recorded(ALONE)
    rules, _ = parsed()
    want = [
        (r["family"], r["chain"], r["handle"])
        for r in json_rules(doc)
        if r["table"] == "docker-bridges"
    ]
    assert [({"ipv4": "ip", "ipv6": "ip6"}[r.family], r.chain, r.handle) for r in rules] == want
    assert {(r.backend, r.table) for r in rules} == {(NFTABLES, "docker-bridges")}
    for (family, chain), group in _groups(rules).items():
        assert [r.position for r in group] == list(range(1, len(group) + 1)), (family, chain)
    ids = [r.id for r in rules]
    assert len(set(ids)) == len(ids) == 46
    assert len([r for r in rules if r.family == "ipv6"]) == 15


def test_every_chain_of_dockers_layout_is_reached() -> None:
    """Base chains reach nat-prerouting-and-output by jump and every per-bridge chain
    through an element of a named verdict map: no rule is marked unreached."""
    rules, _ = parsed()
    assert not [(r.family, r.chain) for r in rules if r.unreached]
    per_bridge = {r.chain for r in rules if "__" in r.chain}
    assert len(per_bridge) >= 8  # reached only through the maps


def _groups(rules: list[Rule]) -> dict[tuple[str, str], list[Rule]]:
    out: dict[tuple[str, str], list[Rule]] = {}
    for r in rules:
        out.setdefault((r.family, r.chain), []).append(r)
    return out


def test_text_is_nfts_own_without_counter_values() -> None:
    _, listing = recorded(ALONE)
    rules, _ = parsed()
    masq = by_text(rules, "nat-postrouting-out__docker0", MASQ)
    assert masq.position == 1 and masq.handle == 40
    lines = [ln.strip() for ln in listing.splitlines()]
    assert f"{MASQ.replace('counter', 'counter packets 0 bytes 0')} # handle 40" in lines
    assert not [r for r in rules if "packets" in r.text or "handle" in r.text]


def test_counters_targets_and_match_fields() -> None:
    rules, _ = parsed()
    out = by_text(
        rules,
        "nat-OUTPUT",
        "ip daddr != 127.0.0.0/8 fib daddr type local counter jump nat-prerouting-and-output",
    )
    assert (out.packets, out.bytes) == (4, 147)
    assert out.target == "nat-prerouting-and-output"
    assert (out.destination, out.destination_negated, out.matches) == ("127.0.0.0/8", True, ["fib"])

    dnat = by_text(rules, "nat-prerouting-and-output", DNAT)
    assert (dnat.packets, dnat.bytes) == (1, 60)
    assert dnat.target == "DNAT"
    assert dnat.target_options == {"--to-destination": "172.17.0.4:80"}
    assert (dnat.in_interface, dnat.in_negated) == ("docker0", True)
    assert (dnat.protocol, dnat.dport, dnat.comment) == ("tcp", "8080", "DNAT")

    masq = by_text(rules, "nat-postrouting-out__docker0", MASQ)
    assert masq.target == "MASQUERADE" and masq.target_options == {}
    assert (masq.source, masq.source_negated) == ("172.17.0.0/16", False)
    assert (masq.out_interface, masq.out_negated) == ("docker0", True)

    port = by_text(
        rules, "filter-forward-in__docker0", "ip daddr 172.17.0.4 tcp dport 80 counter accept"
    )
    assert (port.target, port.destination, port.protocol, port.dport) == (
        "ACCEPT",
        "172.17.0.4",
        "tcp",
        "80",
    )
    drop = by_text(
        rules, "filter-forward-in__docker0", 'counter drop comment "UNPUBLISHED PORT DROP"'
    )
    assert (drop.target, drop.position) == ("DROP", 4)
    ct = by_text(rules, "filter-forward-in__docker0", "ct state established,related counter accept")
    assert ct.matches == ["ct"]
    vmap = by_text(rules, "filter-FORWARD", "oifname vmap @filter-forward-in-jumps")
    assert (vmap.target, vmap.target_options) == ("", {"vmap": "@filter-forward-in-jumps"})
    v6 = by_text(
        rules,
        "nat-OUTPUT",
        "ip6 daddr != ::1 fib daddr type local counter jump nat-prerouting-and-output",
        "ipv6",
    )
    assert (v6.destination, v6.destination_negated) == ("::1", True)


def test_chains_with_policies() -> None:
    _, chains = parsed()
    v4 = {c.name: c.policy for c in chains if c.family == "ipv4"}
    assert v4["filter-FORWARD"] == "ACCEPT" and v4["nat-POSTROUTING"] == "ACCEPT"
    assert v4["nat-postrouting-in__docker0"] is None
    assert len(v4) == 18
    v6 = {c.name: c.policy for c in chains if c.family == "ipv6"}
    assert len(v6) == 10 and v6["nat-POSTROUTING"] == "ACCEPT"
    assert v6["nat-postrouting-out__" + V6_BRIDGE] is None


def test_verdict_maps_give_each_per_bridge_chain_its_interface_and_direction() -> None:
    rules, _ = parsed()
    got = {
        (r.family, r.chain, r.chain_interface, r.chain_interface_dir)
        for r in rules
        if r.chain_interface
    }
    want = set()
    for family, bridges in (("ipv4", ("docker0", LAB_BRIDGE, V6_BRIDGE)), ("ipv6", (V6_BRIDGE,))):
        for br in bridges:
            want |= {
                # oifname vmap @filter-forward-in-jumps: packets going into the bridge
                (family, "filter-forward-in__" + br, br, "out"),
                # iifname vmap @filter-forward-out-jumps: packets coming from the bridge
                (family, "filter-forward-out__" + br, br, "in"),
                # iifname vmap @nat-postrouting-out-jumps
                (family, "nat-postrouting-out__" + br, br, "in"),
            }
    assert got == want
    assert not [r for r in rules if r.chain.endswith("FORWARD") and r.chain_interface]


def test_ip6_rules_are_read_with_family_ipv6_in_their_chains() -> None:
    doc, _ = recorded(ALONE)
    rules, _ = parsed()
    v6 = [r for r in rules if r.family == "ipv6"]
    assert [(r.family, r.handle) for r in v6] == [
        ("ipv6", r["handle"]) for r in json_rules(doc) if r["family"] == "ip6"
    ]
    got = [
        (r.chain.split("__")[0], r.position, r.handle, r.text)
        for r in v6
        if r.chain.endswith("__" + V6_BRIDGE)
    ]
    assert got == [
        ("filter-forward-in", 1, 23, "ct state established,related counter accept"),
        ("filter-forward-in", 2, 24, f'iifname "{V6_BRIDGE}" counter accept comment "ICC"'),
        ("filter-forward-in", 3, 25, PORT6),
        ("filter-forward-in", 4, 26, 'counter drop comment "UNPUBLISHED PORT DROP"'),
        ("filter-forward-out", 1, 27, "ct state established,related counter accept"),
        ("filter-forward-out", 2, 28, 'counter accept comment "OUTGOING"'),
        ("nat-postrouting-out", 1, 29, MASQ6),
    ]

    masq = by_text(rules, "nat-postrouting-out__" + V6_BRIDGE, MASQ6, "ipv6")
    assert (masq.target, masq.target_options, masq.comment) == ("MASQUERADE", {}, "MASQUERADE")
    assert (masq.source, masq.source_negated) == (V6_SUBNET, False)
    assert (masq.out_interface, masq.out_negated) == (V6_BRIDGE, True)
    assert (masq.table, masq.backend) == ("docker-bridges", NFTABLES)

    dnat = by_text(rules, "nat-prerouting-and-output", DNAT6, "ipv6")
    assert (dnat.position, dnat.handle, dnat.packets) == (1, 22, 1)  # record.py's IPv6 connect
    assert dnat.target == "DNAT"
    assert dnat.target_options == {"--to-destination": f"[{V6_ADDR}]:80"}
    assert (dnat.source, dnat.source_negated) == ("fe80::/10", True)
    assert (dnat.in_interface, dnat.in_negated) == (V6_BRIDGE, True)
    assert (dnat.protocol, dnat.dport) == ("tcp", "28080")

    port = by_text(rules, "filter-forward-in__" + V6_BRIDGE, PORT6, "ipv6")
    assert (port.target, port.destination, port.destination_negated) == ("ACCEPT", V6_ADDR, False)
    raw = by_text(
        rules,
        "raw-PREROUTING",
        f'ip6 daddr {V6_ADDR} iifname != "{V6_BRIDGE}" counter drop comment "DROP DIRECT ACCESS"',
        "ipv6",
    )
    assert (raw.position, raw.destination, raw.target) == (1, V6_ADDR, "DROP")
    # the same text in both families is two rules
    est = [
        r
        for r in rules
        if (r.chain, r.text)
        == ("filter-forward-in__" + V6_BRIDGE, "ct state established,related counter accept")
    ]
    assert sorted(r.family for r in est) == ["ipv4", "ipv6"] and est[0].id != est[1].id


def test_ip6_per_bridge_chains_take_their_bridge_from_the_ip6_vmap() -> None:
    """Both tables have maps of the same names: the ip6 chains must take the key
    of the ip6 table's map element, not the ip table's nor the chain's suffix."""
    doc, listing = recorded(ALONE)
    for o in doc["nftables"]:
        m = o.get("map")
        if m and m["family"] == "ip6":
            m["elem"] = [["br-renamed", verdict] for _, verdict in m["elem"]]
    rules, _, _ = nparse.parse_ruleset(doc, listing)
    for family, bridge in (("ipv6", "br-renamed"), ("ipv4", V6_BRIDGE)):
        got = {
            (r.chain, r.chain_interface, r.chain_interface_dir)
            for r in rules
            if r.family == family and V6_BRIDGE in r.chain
        }
        assert got == {
            ("filter-forward-in__" + V6_BRIDGE, bridge, "out"),
            ("filter-forward-out__" + V6_BRIDGE, bridge, "in"),
            ("nat-postrouting-out__" + V6_BRIDGE, bridge, "in"),
        }, family


def test_chain_name_suffix_is_the_fallback_without_map_elements() -> None:
    doc, listing = recorded(ALONE)
    doc = {"nftables": [o for o in doc["nftables"] if "map" not in o]}
    rules, _, _ = nparse.parse_ruleset(doc, listing)
    masq = by_text(rules, "nat-postrouting-out__docker0", MASQ)
    assert (masq.chain_interface, masq.chain_interface_dir) == ("docker0", "in")
    icc = by_text(
        rules, "filter-forward-in__docker0", 'iifname "docker0" counter accept comment "ICC"'
    )
    assert (icc.chain_interface, icc.chain_interface_dir) == ("docker0", "out")
    masq6 = by_text(rules, "nat-postrouting-out__" + V6_BRIDGE, MASQ6, "ipv6")
    assert (masq6.chain_interface, masq6.chain_interface_dir) == (V6_BRIDGE, "in")


def test_rendered_text_equals_nfts_for_every_docker_rule() -> None:
    """Without the text listing (ruleset changed between the reads) the text is
    rendered from the JSON: it must be what nft itself prints."""
    doc, _ = recorded(ALONE)
    with_listing, _ = parsed()
    rendered, _, _ = nparse.parse_ruleset(doc)
    assert [r.text for r in rendered] == [r.text for r in with_listing]
    assert [r.id for r in rendered] == [r.id for r in with_listing]


def test_ids_survive_counters_moving() -> None:
    doc, listing = recorded(ALONE)
    before, _ = parsed()
    moved = json.loads(json.dumps(doc).replace('"packets": 0', '"packets": 7'))
    after, _, _ = nparse.parse_ruleset(moved, listing.replace("packets 0 ", "packets 7 "))
    assert [r.id for r in after] == [r.id for r in before]
    assert {r.packets for r in after if "counter" in r.text} >= {7}


# --------------------------------------------------------------------------- ownership
def test_iptables_nft_tables_in_the_same_ruleset_are_not_counted_twice() -> None:
    doc, _ = recorded(BOTH)
    tables = {(o["table"]["family"], o["table"]["name"]) for o in doc["nftables"] if "table" in o}
    assert {("ip", "filter"), ("ip", "nat"), ("ip", "docker-bridges")} <= tables
    rules, chains = parsed(BOTH)
    alone, alone_chains = parsed(ALONE)
    assert {(r.table, r.chain, r.text, r.packets) for r in rules} == {
        (r.table, r.chain, r.text, r.packets) for r in alone
    }
    assert {c.table for c in chains} == {"docker-bridges"} and len(chains) == len(alone_chains)
    # the iptables-nft backend has them: the same netns' ruleset as iptables-nft-save gives it
    save = (RECORDED / "firewall" / "host-iptables-nft-save-c.txt").read_text()
    ipt, _, _ = parse_iptables_save_with_problems(save, NFT, "ipv4")
    assert len(ipt) == len([r for r in json_rules(doc) if r["table"] in ("filter", "nat")])


def _table(family: str, name: str, chains: list[dict[str, Any]], exprs: list[Any]) -> Any:
    t = nparse._Table(family, name)
    t.chains = chains
    t.rules = [{"chain": "x", "expr": exprs}]
    return t


def test_ownership_heuristic() -> None:
    base = {"name": "FORWARD", "hook": "forward"}
    native = {"name": "forward", "hook": "forward"}
    xt = [{"xt": {"type": "match", "name": "conntrack"}}]
    assert nparse.iptables_nft_owns(_table("ip", "filter", [base, {"name": "DOCKER"}], []))
    assert nparse.iptables_nft_owns(_table("ip6", "nat", [native], xt))
    # a native table that merely shares iptables' name is nft's
    assert not nparse.iptables_nft_owns(_table("ip", "filter", [native], []))
    # inet tables (Debian's /etc/nftables.conf) and other names are never iptables-nft's
    assert not nparse.iptables_nft_owns(_table("inet", "filter", [base], xt))
    assert not nparse.iptables_nft_owns(_table("ip", "docker-bridges", [base], []))


def test_other_families_are_not_read() -> None:
    doc = {
        "nftables": [
            {"table": {"family": "bridge", "name": "filter", "handle": 1}},
            {"chain": {"family": "bridge", "table": "filter", "name": "FORWARD", "handle": 1}},
            {"rule": {"family": "bridge", "table": "filter", "chain": "FORWARD", "handle": 2,
                      "expr": [{"accept": None}]}},
        ]
    }  # fmt: skip
    assert nparse.parse_ruleset(doc) == ([], [], [])


def test_interface_wildcards_sets_and_ranges() -> None:
    rule = {
        "family": "inet",
        "table": "mine",
        "chain": "fwd",
        "handle": 5,
        "expr": [
            {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "br-*"}},
            {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "udp"}},
            {"match": {"op": "!=", "left": {"payload": {"protocol": "th", "field": "dport"}},
                       "right": {"set": [53, {"range": [8000, 8080]}]}}},
            {"dnat": {"family": "ip6", "addr": "fd00::2", "port": 53}},
        ],
    }  # fmt: skip
    doc = {"nftables": [{"table": {"family": "inet", "name": "mine"}}, {"rule": rule}]}
    (got,), _, _ = nparse.parse_ruleset(doc)
    assert (got.family, got.out_interface, got.protocol, got.dport) == (
        "inet",
        "br-+",
        "udp",
        "!53,8000:8080",
    )
    assert got.target_options == {"--to-destination": "[fd00::2]:53"}
    assert (
        got.text
        == 'oifname "br-*" meta l4proto udp th dport != { 53, 8000-8080 } dnat ip6 to [fd00::2]:53'
    )


# --------------------------------------------------------------------------- reading
def test_missing_nft_is_nothing_to_read_unless_docker_uses_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(nn, "find_nft", lambda: None)
    monkeypatch.setattr(nn, "docker_uses_nftables", lambda: False)
    assert nn.read_nft_native() == ([], [], [])
    monkeypatch.setattr(nn, "docker_uses_nftables", lambda: True)
    with pytest.raises(SourceError, match="apt-get install nftables"):
        nn.read_nft_native()


def test_not_root_is_said_in_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nn, "find_nft", lambda: "/usr/sbin/nft")
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(SourceError, match="needs root"):
        nn.read_nft_native()


def test_docker_uses_nftables_from_daemon_json_or_command_line(tmp_path: Path) -> None:
    conf = tmp_path / "daemon.json"
    proc = tmp_path / "proc"
    (proc / "42").mkdir(parents=True)
    (proc / "42" / "comm").write_text("dockerd\n")
    (proc / "42" / "cmdline").write_bytes(b"/usr/bin/dockerd\0-H\0fd://\0")
    assert not nn.docker_uses_nftables(conf, proc)
    conf.write_text('{"firewall-backend": "nftables"}')
    assert nn.docker_uses_nftables(conf, proc)
    conf.write_text("{not json")
    (proc / "42" / "cmdline").write_bytes(b"/usr/bin/dockerd\0--firewall-backend\0nftables\0")
    assert nn.docker_uses_nftables(conf, proc)


def test_collect_firewall_reports_the_nftables_backend() -> None:
    rules, chains = parsed(BOTH)
    data = collect_firewall({NFTABLES: lambda: (rules, chains, [])})
    assert data.backends == [NFTABLES]
    assert data.errors == {} and len(data.rules) == len(rules)
    assert not [w for w in data.warnings if "both iptables backends" in w]
    save = (RECORDED / "firewall" / "host-iptables-nft-save-c.txt").read_text()
    ipt = parse_iptables_save_with_problems(save, NFT, "ipv4")
    data = collect_firewall({NFT: lambda: ipt, NFTABLES: lambda: (rules, chains, [])})
    assert data.backends == [NFT, NFTABLES]
    assert [r.backend for r in data.rules] == [NFT] * len(ipt[0]) + [NFTABLES] * len(rules)
    assert not [w for w in data.warnings if "both iptables backends" in w]


# --------------------------------------------------------------------------- correlation
def native_lab() -> Snapshot:
    """The recorded lab, its iptables rules replaced by the native nftables ones."""
    doc = json.loads((RECORDED / "lab" / "nft.snapshot.json").read_text())
    snap = snapshot_from_dict(doc)
    assert {n.bridge for n in snap.networks if n.bridge} == {"docker0", LAB_BRIDGE}
    snap.rules, snap.chains = parsed(BOTH)
    snap.firewall_backends = [NFTABLES]
    return snap


def names(snap: Snapshot, rule: Rule) -> list[str]:
    return list(correlate(snap).rule_containers[rule.id])


def bridges(snap: Snapshot, rule: Rule) -> list[str]:
    return list(correlate(snap).rule_bridges[rule.id])


def rules_of(snap: Snapshot, ep: Endpoint) -> tuple[str, ...]:
    return correlate(snap).wiring(ep).rules


def test_correlation_links_native_rules_like_iptables_ones() -> None:
    snap = native_lab()
    links = correlate(snap).links
    masq = by_text(snap.rules, "nat-postrouting-out__docker0", MASQ)
    test1 = next(c for c in snap.containers if c.name == "test1")
    assert masq.id in rules_of(snap, test1.endpoints[0])
    assert masq.key in links.related(test1.key)
    assert names(snap, masq) == ["test1", "test2", "web"]
    assert bridges(snap, masq) == ["docker0"]
    lab_masq = next(r for r in snap.rules if r.chain == "nat-postrouting-out__" + LAB_BRIDGE)
    assert names(snap, lab_masq) == ["db", "web"]

    dnat = by_text(snap.rules, "nat-prerouting-and-output", DNAT)
    assert names(snap, dnat) == ["web"]
    web = next(c for c in snap.containers if c.name == "web")
    assert dnat.key in links.related(web.key)
    on_bridge = next(ep for ep in web.endpoints if ep.network == "bridge")
    on_lab = next(ep for ep in web.endpoints if ep.network != "bridge")
    assert dnat.id in rules_of(snap, on_bridge) and dnat.id not in rules_of(snap, on_lab)
    assert masq.id in rules_of(snap, on_bridge) and lab_masq.id in rules_of(snap, on_lab)
    assert masq.id not in rules_of(snap, on_lab)


def native_v6_lab() -> Snapshot:
    """The recorded network-modes snapshot (the lab plus throwaway networks, among
    them the dual-stack nxt-rec-v6 with nxt-rec-multi at fd00:6e78:ec::2), its
    iptables rules replaced by the native nftables ones."""
    doc = json.loads((RECORDED / "modes" / "healthy.snapshot.json").read_text())
    snap = snapshot_from_dict(doc)
    v6 = next(n for n in snap.networks if n.bridge == V6_BRIDGE)
    assert v6.enable_ipv6 and V6_SUBNET in v6.subnets
    snap.rules, snap.chains = parsed(BOTH)
    snap.firewall_backends = [NFTABLES]
    return snap


def v6_endpoint(snap: Snapshot) -> Any:
    multi = next(c for c in snap.containers if c.name == "nxt-rec-multi")
    return next(ep for ep in multi.endpoints if correlate(snap).wiring(ep).bridge == V6_BRIDGE)


def test_nat66_masquerade_links_to_the_ipv6_endpoint_only() -> None:
    snap = native_v6_lab()
    links = correlate(snap).links
    masq6 = by_text(snap.rules, "nat-postrouting-out__" + V6_BRIDGE, MASQ6, "ipv6")
    ep = v6_endpoint(snap)
    assert ep.ipv6 == V6_ADDR
    assert names(snap, masq6) == ["nxt-rec-multi"]
    assert bridges(snap, masq6) == [V6_BRIDGE]
    assert masq6.key in links.related(ep.key)
    holders = [
        (c.name, e.network)
        for c in snap.containers
        for e in c.endpoints
        if masq6.id in rules_of(snap, e)
    ]
    assert holders == [("nxt-rec-multi", "nxt-rec-v6")]  # not its docker0 or icc endpoints
    # the network's IPv4 masquerade links to the same (dual-stack) endpoint
    masq4 = by_text(snap.rules, "nat-postrouting-out__" + V6_BRIDGE, MASQ_V4_OF_V6)
    assert masq4.id in rules_of(snap, ep) and names(snap, masq4) == ["nxt-rec-multi"]
    # the IPv4-only endpoints on docker0 do not get the NAT66 rule, nor the other way
    docker0_masq = by_text(snap.rules, "nat-postrouting-out__docker0", MASQ)
    assert "nxt-rec-multi" in names(snap, docker0_masq)
    assert docker0_masq.id not in rules_of(snap, ep)

    # an endpoint without an IPv6 address on the same bridge: the NAT66 rule is not its
    ep.ipv6 = None
    assert names(snap, masq6) == [] and masq6.id not in rules_of(snap, ep)
    assert masq4.id in rules_of(snap, ep)


def test_ip6_port_rules_link_to_the_ipv6_endpoint() -> None:
    snap = native_v6_lab()
    links = correlate(snap).links
    ep = v6_endpoint(snap)
    multi = next(c for c in snap.containers if c.name == "nxt-rec-multi")
    dnat6 = by_text(snap.rules, "nat-prerouting-and-output", DNAT6, "ipv6")
    port6 = by_text(snap.rules, "filter-forward-in__" + V6_BRIDGE, PORT6, "ipv6")
    for rule in (dnat6, port6):
        assert names(snap, rule) == ["nxt-rec-multi"], rule.text
        assert rule.id in rules_of(snap, ep)
        assert rule.key in links.related(multi.key)
    web = next(c for c in snap.containers if c.name == "web")
    assert dnat6.key not in links.related(web.key)
    # ip6 dispatch rules concern no container
    for r in snap.rules:
        if r.family == "ipv6" and r.chain in ("filter-FORWARD", "nat-POSTROUTING"):
            assert names(snap, r) == [], r.text


def test_per_bridge_filter_chains_link_to_their_bridges_endpoints() -> None:
    snap = native_lab()
    for chain in ("filter-forward-in__docker0", "filter-forward-out__docker0"):
        est = by_text(snap.rules, chain, "ct state established,related counter accept")
        assert names(snap, est) == ["test1", "test2", "web"], chain
        assert bridges(snap, est) == ["docker0"]
    lab_out = by_text(
        snap.rules, "filter-forward-out__" + LAB_BRIDGE, 'counter accept comment "OUTGOING"'
    )
    assert names(snap, lab_out) == ["db", "web"]
    port = by_text(
        snap.rules, "filter-forward-in__docker0", "ip daddr 172.17.0.4 tcp dport 80 counter accept"
    )
    assert names(snap, port) == ["web"]
    raw = by_text(
        snap.rules,
        "raw-PREROUTING",
        'ip daddr 172.17.0.4 iifname != "docker0" counter drop comment "DROP DIRECT ACCESS"',
    )
    assert names(snap, raw) == ["web"]
    # dispatch rules and the jump to the DNAT chain concern no container
    for r in snap.rules:
        if r.chain in ("filter-FORWARD", "nat-POSTROUTING", "nat-OUTPUT", "nat-PREROUTING"):
            assert names(snap, r) == [], r.text


def test_masquerade_without_own_conditions_stays_on_its_bridge() -> None:
    """The chain is dispatched on iifname: a masquerade there with no saddr and no
    oifname of its own still concerns only containers of that bridge."""
    snap = native_lab()
    masq = by_text(snap.rules, "nat-postrouting-out__docker0", MASQ)
    masq.source = None
    masq.out_interface = None
    assert names(snap, masq) == ["test1", "test2", "web"]
    # and one whose chain is dispatched on oifname (traffic into the bridge) does not
    # take the bridge's containers as its sources
    masq.chain, masq.chain_interface_dir = "nat-postrouting-in__docker0", "out"
    assert names(snap, masq) == []


# --------------------------------------------------------------------------- doctor
def findings(snap: Snapshot) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in diagnose(snap):
        out.setdefault(f.check, []).append(f)
    return out


def without(snap: Snapshot, chain: str, text: str, family: str = "ipv4") -> Snapshot:
    gone = by_text(snap.rules, chain, text, family)
    snap.rules = [r for r in snap.rules if r is not gone]
    return snap


def test_doctor_is_silent_on_dockers_native_rules() -> None:
    snap = native_lab()
    assert rule_backends(snap) == [NFTABLES]
    assert {("nftables", f, "nat") for f in ("ipv4", "ipv6")} <= docker_tables(snap)
    assert diagnose(snap) == []


def native_v6_lab_with_ipv6_port() -> Snapshot:
    """The fixture also publishes nxt-rec-multi's port 80 on [::]:28080 (the
    recording has only 127.0.0.1:28080): the snapshot gets that binding too."""
    snap = native_v6_lab()
    multi = next(c for c in snap.containers if c.name == "nxt-rec-multi")
    (p,) = multi.published_ports
    assert (p.host_ip, p.host_port, p.container_port) == ("127.0.0.1", 28080, 80)
    multi.published_ports.append(replace(p, host_ip="::"))
    return snap


def test_doctor_is_silent_on_the_ipv6_network() -> None:
    """Only the network the fixture leaves out (nxt-rec-icc) lacks its rules."""
    got = findings(native_v6_lab_with_ipv6_port())
    assert {c: [f.subject for f in fs] for c, fs in got.items()} == {
        "masquerade": ["nftables/192.168.0.0/20"]
    }


def test_doctor_finds_the_missing_nat66_masquerade_rule() -> None:
    snap = without(
        native_v6_lab_with_ipv6_port(), "nat-postrouting-out__" + V6_BRIDGE, MASQ6, "ipv6"
    )
    got = [f for f in findings(snap)["masquerade"] if f.subject != "nftables/192.168.0.0/20"]
    (f,) = got
    assert f.subject == f"nftables/{V6_SUBNET}"
    assert f"{V6_SUBNET} (network nxt-rec-v6, bridge {V6_BRIDGE}) in nftables ipv6" in f.title
    # the fix is Docker's rule, word for word
    assert f.fix.splitlines() == [
        f"nft add rule ip6 docker-bridges nat-postrouting-out__{V6_BRIDGE} {MASQ6}",
        "# or: systemctl restart docker (Docker rewrites its rules)",
    ]
    assert v6_endpoint(snap).key in f.evidence


def test_doctor_finds_the_missing_ip6_dnat_rule_and_gives_dockers_rule() -> None:
    snap = without(native_v6_lab_with_ipv6_port(), "nat-prerouting-and-output", DNAT6, "ipv6")
    (f,) = findings(snap)["dnat"]
    assert f.subject == "nxt-rec-multi/:::28080/tcp"
    assert f.fix.splitlines() == [
        f"nft add rule ip6 docker-bridges nat-prerouting-and-output {DNAT6}",
        "# or: docker restart nxt-rec-multi",
    ]
    # and the IPv4 binding on 127.0.0.1 likewise
    snap = without(native_v6_lab(), "nat-prerouting-and-output", DNAT_V4_OF_V6)
    (f,) = findings(snap)["dnat"]
    assert f.subject == "nxt-rec-multi/127.0.0.1:28080/tcp"
    assert f.fix.splitlines()[0] == (
        f"nft add rule ip docker-bridges nat-prerouting-and-output {DNAT_V4_OF_V6}"
    )


def forward_drop(snap: Snapshot, family: str) -> Snapshot:
    """``snap`` with docker-bridges' filter-FORWARD policy of ``family`` set to DROP."""
    fwd = next(
        c
        for c in snap.chains
        if (c.family, c.table, c.name) == (family, nparse.DOCKER_TABLE, "filter-FORWARD")
    )
    fwd.policy = "DROP"
    return snap


def test_doctor_finds_a_drop_policy_on_ip6_filter_forward() -> None:
    snap = forward_drop(native_v6_lab_with_ipv6_port(), "ipv6")
    assert "forward-drop" not in findings(snap)  # the per-bridge chains accept
    snap.rules = [
        r for r in snap.rules if (r.family, r.chain) != ("ipv6", "filter-forward-out__" + V6_BRIDGE)
    ]
    (f,) = findings(snap)["forward-drop"]
    assert f.subject == f"nftables/ipv6/{V6_BRIDGE}"
    assert f.fix.splitlines()[0] == (
        f"nft insert rule ip6 docker-bridges filter-forward-out__{V6_BRIDGE} counter accept"
    )


def test_doctor_finds_the_missing_native_masquerade_rule() -> None:
    snap = without(native_lab(), "nat-postrouting-out__docker0", MASQ)
    (f,) = findings(snap)["masquerade"]
    assert f.subject == "nftables/172.17.0.0/16"
    assert "172.17.0.0/16 (network bridge, bridge docker0)" in f.title
    assert f.fix.splitlines() == [
        'nft add rule ip docker-bridges nat-postrouting-out__docker0 oifname != "docker0" '
        'ip saddr 172.17.0.0/16 counter masquerade comment "MASQUERADE"',
        "# or: systemctl restart docker (Docker rewrites its rules)",
    ]
    assert "net:" + next(n.id for n in snap.networks if n.name == "bridge") in f.evidence


def test_native_masquerade_of_another_bridges_chain_does_not_count() -> None:
    """nat-postrouting-out__<lab bridge> is dispatched on iifname <lab bridge>: a rule
    there with docker0's subnet never sees docker0's packets."""
    snap = without(native_lab(), "nat-postrouting-out__docker0", MASQ)
    lab = next(r for r in snap.rules if r.chain == "nat-postrouting-out__" + LAB_BRIDGE)
    lab.source = "172.16.0.0/12"  # contains both subnets
    assert [f.subject for f in findings(snap)["masquerade"]] == ["nftables/172.17.0.0/16"]
    lab.chain_interface = None  # undispatched (e.g. in nat-POSTROUTING itself): it counts
    assert "masquerade" not in findings(snap)


def test_doctor_finds_the_missing_native_dnat_rule() -> None:
    snap = without(native_lab(), "nat-prerouting-and-output", DNAT)
    (f,) = findings(snap)["dnat"]
    assert f.subject == "web/0.0.0.0:8080/tcp"
    assert f.fix.splitlines() == [
        'nft add rule ip docker-bridges nat-prerouting-and-output iifname != "docker0" '
        'tcp dport 8080 counter dnat to 172.17.0.4:80 comment "DNAT"',
        "# or: docker restart web",
    ]
    assert set(findings(snap)) == {"dnat"}


def test_doctor_finds_a_drop_policy_on_filter_forward_without_the_bridges_accepts() -> None:
    snap = forward_drop(native_lab(), "ipv4")
    assert "forward-drop" not in findings(snap)  # the per-bridge chains accept
    snap.rules = [r for r in snap.rules if r.chain != "filter-forward-out__docker0"]
    (f,) = findings(snap)["forward-drop"]
    assert f.subject == "nftables/ipv4/docker0"
    assert "out of docker0" in f.title and "replies" not in f.title
    assert f.fix.splitlines()[0] == (
        "nft insert rule ip docker-bridges filter-forward-out__docker0 counter accept"
    )


def _iptables_nft_tables_only(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without docker-bridges: iptables-nft's tables alone."""
    return {
        "nftables": [
            obj
            for obj in doc["nftables"]
            if not any(
                isinstance(v, dict) and nparse.DOCKER_TABLE in (v.get("name"), v.get("table"))
                for v in obj.values()
            )
        ]
    }


@pytest.mark.parametrize("native", [True, False])
def test_the_text_listing_is_run_only_for_rules_read_here(
    monkeypatch: pytest.MonkeyPatch, native: bool
) -> None:
    doc, listing = recorded(BOTH)
    if not native:
        doc = _iptables_nft_tables_only(doc)
    assert any("table" in obj for obj in doc["nftables"])
    ran: list[tuple[str, ...]] = []

    def run_nft(binary: str, *args: str) -> str:
        ran.append(args)
        return json.dumps(doc) if "-j" in args else listing

    monkeypatch.setattr(nn, "find_nft", lambda: "/usr/sbin/nft")
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr(nn, "run_nft", run_nft)
    got = nn.read_nft_native()
    assert nparse.rules_to_list(doc) is native
    if native:
        assert ran == [("-j", "list", "ruleset"), ("-a", "list", "ruleset")]
        assert got == nparse.parse_ruleset(doc, listing) and got[0]
    else:
        assert ran == [("-j", "list", "ruleset")]
        assert got == ([], [], []) == nparse.parse_ruleset(doc, listing)
