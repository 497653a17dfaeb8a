"""Docker's native nftables rules (docker-bridges) from recorded ``nft`` output.

tests/recorded/nft-native holds real ``nft -j list ruleset`` / ``nft -a list
ruleset`` output of the hand-written docker-bridges fixture loaded into scratch
netns, once alone and once next to an iptables-nft Docker ruleset (see the
README there). The lab snapshot's rules are replaced by these to check that
correlation links them as it links Docker's iptables rules.
"""

from __future__ import annotations

import json
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
from netexplorer.collect.firewall.iptables_save import parse_iptables_save_with_problems
from netexplorer.correlate import correlate
from netexplorer.doctor import Finding, diagnose
from netexplorer.doctor.checks import docker_tables, rule_backends
from netexplorer.model import Rule, Snapshot
from netexplorer.snapshot_io import snapshot_from_dict

RECORDED = Path(__file__).resolve().parents[1] / "recorded"
NATIVE = RECORDED / "nft-native"
ALONE = "netns-docker-bridges"
BOTH = "netns-docker-bridges-and-iptables-nft"
LAB_BRIDGE = "br-7fe19de61a93"
MASQ = 'oifname != "docker0" ip saddr 172.17.0.0/16 counter masquerade comment "MASQUERADE"'
DNAT = 'iifname != "docker0" tcp dport 8080 counter dnat to 172.17.0.4:80 comment "DNAT"'


def recorded(name: str) -> tuple[dict[str, Any], str]:
    doc = json.loads((NATIVE / f"{name}.json").read_text())
    return doc, (NATIVE / f"{name}.txt").read_text()


def parsed(name: str = ALONE) -> tuple[list[Rule], list[Any]]:
    rules, chains, problems = nn.parse_ruleset(*recorded(name))
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
    assert len(set(ids)) == len(ids) == 27


def _groups(rules: list[Rule]) -> dict[tuple[str, str], list[Rule]]:
    out: dict[tuple[str, str], list[Rule]] = {}
    for r in rules:
        out.setdefault((r.family, r.chain), []).append(r)
    return out


def test_text_is_nfts_own_without_counter_values() -> None:
    _, listing = recorded(ALONE)
    rules, _ = parsed()
    masq = by_text(rules, "nat-postrouting-out__docker0", MASQ)
    assert masq.position == 1 and masq.handle == 33
    lines = [ln.strip() for ln in listing.splitlines()]
    assert f"{MASQ.replace('counter', 'counter packets 0 bytes 0')} # handle 33" in lines
    assert not [r for r in rules if "packets" in r.text or "handle" in r.text]


def test_counters_targets_and_match_fields() -> None:
    rules, _ = parsed()
    out = by_text(
        rules,
        "nat-OUTPUT",
        "ip daddr != 127.0.0.0/8 fib daddr type local counter jump nat-prerouting-and-output",
    )
    assert (out.packets, out.bytes) == (4, 174)
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
    assert len(v4) == 14 and len([c for c in chains if c.family == "ipv6"]) == 6


def test_verdict_maps_give_each_per_bridge_chain_its_interface_and_direction() -> None:
    rules, _ = parsed()
    got = {(r.chain, r.chain_interface, r.chain_interface_dir) for r in rules if r.chain_interface}
    assert got == {
        # oifname vmap @filter-forward-in-jumps: packets going into the bridge
        ("filter-forward-in__docker0", "docker0", "out"),
        ("filter-forward-in__" + LAB_BRIDGE, LAB_BRIDGE, "out"),
        # iifname vmap @filter-forward-out-jumps: packets coming from the bridge
        ("filter-forward-out__docker0", "docker0", "in"),
        ("filter-forward-out__" + LAB_BRIDGE, LAB_BRIDGE, "in"),
        # iifname vmap @nat-postrouting-out-jumps
        ("nat-postrouting-out__docker0", "docker0", "in"),
        ("nat-postrouting-out__" + LAB_BRIDGE, LAB_BRIDGE, "in"),
    }
    assert not [r for r in rules if r.chain.endswith("FORWARD") and r.chain_interface]


def test_chain_name_suffix_is_the_fallback_without_map_elements() -> None:
    doc, listing = recorded(ALONE)
    doc = {"nftables": [o for o in doc["nftables"] if "map" not in o]}
    rules, _, _ = nn.parse_ruleset(doc, listing)
    masq = by_text(rules, "nat-postrouting-out__docker0", MASQ)
    assert (masq.chain_interface, masq.chain_interface_dir) == ("docker0", "in")
    icc = by_text(
        rules, "filter-forward-in__docker0", 'iifname "docker0" counter accept comment "ICC"'
    )
    assert (icc.chain_interface, icc.chain_interface_dir) == ("docker0", "out")


def test_rendered_text_equals_nfts_for_every_docker_rule() -> None:
    """Without the text listing (ruleset changed between the reads) the text is
    rendered from the JSON: it must be what nft itself prints."""
    doc, _ = recorded(ALONE)
    with_listing, _ = parsed()
    rendered, _, _ = nn.parse_ruleset(doc)
    assert [r.text for r in rendered] == [r.text for r in with_listing]
    assert [r.id for r in rendered] == [r.id for r in with_listing]


def test_ids_survive_counters_moving() -> None:
    doc, listing = recorded(ALONE)
    before, _ = parsed()
    moved = json.loads(json.dumps(doc).replace('"packets": 0', '"packets": 7'))
    after, _, _ = nn.parse_ruleset(moved, listing.replace("packets 0 ", "packets 7 "))
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
    t = nn._Table(family, name)
    t.chains = chains
    t.rules = [{"chain": "x", "expr": exprs}]
    return t


def test_ownership_heuristic() -> None:
    base = {"name": "FORWARD", "hook": "forward"}
    native = {"name": "forward", "hook": "forward"}
    xt = [{"xt": {"type": "match", "name": "conntrack"}}]
    assert nn.iptables_nft_owns(_table("ip", "filter", [base, {"name": "DOCKER"}], []))
    assert nn.iptables_nft_owns(_table("ip6", "nat", [native], xt))
    # a native table that merely shares iptables' name is nft's
    assert not nn.iptables_nft_owns(_table("ip", "filter", [native], []))
    # inet tables (Debian's /etc/nftables.conf) and other names are never iptables-nft's
    assert not nn.iptables_nft_owns(_table("inet", "filter", [base], xt))
    assert not nn.iptables_nft_owns(_table("ip", "docker-bridges", [base], []))


def test_other_families_are_not_read() -> None:
    doc = {
        "nftables": [
            {"table": {"family": "bridge", "name": "filter", "handle": 1}},
            {"chain": {"family": "bridge", "table": "filter", "name": "FORWARD", "handle": 1}},
            {"rule": {"family": "bridge", "table": "filter", "chain": "FORWARD", "handle": 2,
                      "expr": [{"accept": None}]}},
        ]
    }  # fmt: skip
    assert nn.parse_ruleset(doc) == ([], [], [])


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
    (got,), _, _ = nn.parse_ruleset(doc)
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
    return snap.rule_containers[rule.id]


def test_correlation_links_native_rules_like_iptables_ones() -> None:
    snap = native_lab()
    links = correlate(snap)
    masq = by_text(snap.rules, "nat-postrouting-out__docker0", MASQ)
    test1 = next(c for c in snap.containers if c.name == "test1")
    assert masq.id in test1.endpoints[0].rules
    assert masq.key in links.related(test1.key)
    assert names(snap, masq) == ["test1", "test2", "web"]
    assert snap.rule_bridges[masq.id] == ["docker0"]
    lab_masq = next(r for r in snap.rules if r.chain == "nat-postrouting-out__" + LAB_BRIDGE)
    assert names(snap, lab_masq) == ["db", "web"]

    dnat = by_text(snap.rules, "nat-prerouting-and-output", DNAT)
    assert names(snap, dnat) == ["web"]
    web = next(c for c in snap.containers if c.name == "web")
    assert dnat.key in links.related(web.key)
    on_bridge = next(ep for ep in web.endpoints if ep.network == "bridge")
    on_lab = next(ep for ep in web.endpoints if ep.network != "bridge")
    assert dnat.id in on_bridge.rules and dnat.id not in on_lab.rules
    assert masq.id in on_bridge.rules and lab_masq.id in on_lab.rules
    assert masq.id not in on_lab.rules


def test_per_bridge_filter_chains_link_to_their_bridges_endpoints() -> None:
    snap = native_lab()
    correlate(snap)
    for chain in ("filter-forward-in__docker0", "filter-forward-out__docker0"):
        est = by_text(snap.rules, chain, "ct state established,related counter accept")
        assert names(snap, est) == ["test1", "test2", "web"], chain
        assert snap.rule_bridges[est.id] == ["docker0"]
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
    correlate(snap)
    assert names(snap, masq) == ["test1", "test2", "web"]
    # and one whose chain is dispatched on oifname (traffic into the bridge) does not
    # take the bridge's containers as its sources
    masq.chain, masq.chain_interface_dir = "nat-postrouting-in__docker0", "out"
    correlate(snap)
    assert names(snap, masq) == []


# --------------------------------------------------------------------------- doctor
def findings(snap: Snapshot) -> dict[str, list[Finding]]:
    correlate(snap)
    out: dict[str, list[Finding]] = {}
    for f in diagnose(snap):
        out.setdefault(f.check, []).append(f)
    return out


def without(snap: Snapshot, chain: str, text: str) -> Snapshot:
    gone = by_text(snap.rules, chain, text)
    snap.rules = [r for r in snap.rules if r is not gone]
    return snap


def test_doctor_is_silent_on_dockers_native_rules() -> None:
    snap = native_lab()
    assert rule_backends(snap) == [NFTABLES]
    assert ("nftables", "ipv4", "nat") in docker_tables(snap)
    assert diagnose(snap) == []


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
    snap = native_lab()
    fwd = next(
        c
        for c in snap.chains
        if (c.family, c.table, c.name) == ("ipv4", nn.DOCKER_TABLE, "filter-FORWARD")
    )
    fwd.policy = "DROP"
    assert "forward-drop" not in findings(snap)  # the per-bridge chains accept
    snap.rules = [r for r in snap.rules if r.chain != "filter-forward-out__docker0"]
    (f,) = findings(snap)["forward-drop"]
    assert f.subject == "nftables/ipv4/docker0"
    assert "out of docker0" in f.title and "replies" not in f.title
    assert f.fix.splitlines()[0] == (
        "nft insert rule ip docker-bridges filter-forward-out__docker0 counter accept"
    )
