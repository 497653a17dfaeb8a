"""The path engine on a snapshot recorded from the lab (tests/recorded/path/record.py).

Each case is a question the tutorial asks (test1 -> test2, test1 -> the internet,
outside -> a published port ...) answered from the read alone; the same cases
are checked against the kernel's own trace on the lab in
tests/integration/test_path_trace.py.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from netexplorer.cli import main
from netexplorer.collect.firewall.iptables_save import parse_rule, parse_rule_spec
from netexplorer.collect.firewall.nft_parse import parse_ruleset
from netexplorer.correlate import correlate
from netexplorer.model import Snapshot
from netexplorer.path import PathResult, UnknownName, trace_path
from netexplorer.snapshot_io import load_snapshot

RECORDED = Path(__file__).resolve().parents[1] / "recorded"
LAB = RECORDED / "path" / "lab-nft.snapshot.json"
NFT = RECORDED / "nft-native"


@pytest.fixture(scope="module")
def lab() -> Snapshot:
    return load_snapshot(LAB)


def path(
    snap: Snapshot, src: str, dst: str, proto: str = "icmp", port: int | None = None
) -> PathResult:
    return trace_path(snap, correlate(snap), src, dst, proto, port)


def titles(result: PathResult) -> list[str]:
    return [f"{h.kind}: {h.title}" for h in result.hops]


def with_rule(snap: Snapshot, line: str, table: str = "filter", first: bool = True) -> Snapshot:
    """A copy of ``snap`` with one more iptables-nft rule (positions renumbered)."""
    out = copy.deepcopy(snap)
    rule = parse_rule(line, "iptables-nft", "ipv4", table)
    rule.id = "added"
    same = [
        r for r in out.rules if (r.backend, r.table, r.chain) == ("iptables-nft", table, rule.chain)
    ]
    for r in same:
        r.position += 1 if first else 0
    rule.position = 1 if first else len(same) + 1
    out.rules.append(rule)
    return out


def test_test1_to_the_internet_names_route_veth_bridge_forward_masquerade_egress(
    lab: Snapshot,
) -> None:
    r = path(lab, "test1", "203.0.113.1")
    assert r.verdict == "delivered"
    kinds = [h.kind for h in r.hops]
    assert kinds[:3] == ["route", "veth", "bridge"]
    assert r.hops[0].title == "route in test1: 203.0.113.1 via 172.17.0.1 dev eth0 src 172.17.0.2"
    test1 = next(c for c in lab.containers if c.name == "test1")
    ep = test1.endpoints[0]
    assert ep.key in r.hops[1].keys and test1.key in r.hops[0].keys
    assert "br:docker0" in r.hops[2].keys
    forward = next(h for h in r.hops if h.kind == "rule" and "FORWARD" in h.title)
    assert forward.title.endswith("-A FORWARD -i docker0 ! -o docker0 -j ACCEPT")
    assert forward.rule is not None and forward.packets is not None
    masq = next(h for h in r.hops if h.kind == "nat")
    assert "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE" in masq.title
    assert masq.title.endswith("-> source 198.51.100.1")
    assert r.hops[-1].kind == "egress"
    assert r.hops[-1].title.startswith(
        "leaves the host on nx-inet0 via 198.51.100.2 as icmp 198.51.100.1"
    )
    nx = next(i for i in lab.interfaces if i.name == "nx-inet0")
    assert nx.key in r.hops[-1].keys
    assert r.delivered_as is not None and r.delivered_as.src == "198.51.100.1"
    # the reply: SNAT undone, accepted as ESTABLISHED, delivered to test1
    assert r.reply_verdict == "delivered"
    reply = [h.title for h in r.reply]
    assert any("undoes the SNAT: destination 198.51.100.1 -> 172.17.0.2" in t for t in reply)
    assert any("RELATED,ESTABLISHED -j ACCEPT" in t for t in reply)
    assert r.reply[-1].title == "delivered to test1 (172.17.0.2)"


def test_same_bridge_is_l2_and_passes_forward_only_with_br_netfilter(lab: Snapshot) -> None:
    r = path(lab, "test1", "test2")
    assert r.verdict == "delivered"
    assert any("bridged (L2)" in t for t in titles(r))
    assert any("bridge-nf-call-iptables=1" in t for t in titles(r))
    assert any(t.endswith("-A FORWARD -i docker0 -o docker0 -j ACCEPT") for t in titles(r))
    off = copy.deepcopy(lab)
    off.sysctls["net.bridge.bridge-nf-call-iptables"] = "0"
    r = path(off, "test1", "test2")
    assert r.verdict == "delivered"
    assert not any(h.kind in ("rule", "policy") for h in r.hops)
    assert any("skip iptables (net.bridge.bridge-nf-call-iptables=0)" in t for t in titles(r))
    del off.sysctls["net.bridge.bridge-nf-call-iptables"]
    assert any("br_netfilter is not loaded" in t for t in titles(path(off, "test1", "test2")))


def test_icc_false_drops_on_the_bridge_when_br_netfilter_passes_it(lab: Snapshot) -> None:
    snap = with_rule(lab, "-A FORWARD -i docker0 -o docker0 -j DROP")
    r = path(snap, "test1", "test2")
    assert r.verdict == "dropped" and r.rule == "rule:added"


def test_other_user_bridge_is_dropped_by_docker_isolation(lab: Snapshot) -> None:
    r = path(lab, "test1", "db")
    assert r.verdict == "dropped"
    last = r.hops[-1]
    assert last.kind == "rule" and last.verdict == "DROP"
    assert last.title.startswith("filter FORWARD (nft): DROP by -A DOCKER-ISOLATION-STAGE-2 -o br-")
    assert r.rule == last.rule
    # the walk went FORWARD -> DOCKER-USER (RETURN) -> DOCKER-ISOLATION-STAGE-1 -> STAGE-2
    texts = [next(x.text for x in lab.rules if x.key == k) for k in last.trail]
    assert texts[0] == "-A FORWARD -j DOCKER-USER"
    assert texts[1] == "-A DOCKER-USER -j RETURN"
    assert texts[2] == "-A FORWARD -j DOCKER-ISOLATION-STAGE-1"
    assert (
        texts[3]
        == "-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2"
    )
    assert not r.reply


def test_outside_to_published_port_is_dnated_to_web_and_reply_undoes_it(lab: Snapshot) -> None:
    r = path(lab, "198.51.100.2", "host:8080")
    assert r.packet.proto == "tcp" and r.packet.dst == "198.51.100.1" and r.packet.dport == 8080
    assert r.verdict == "delivered"
    assert r.hops[0].title == "arrives from 198.51.100.2 on nx-inet0"
    dnat = next(h for h in r.hops if h.kind == "nat")
    assert "--to-destination 172.17.0.4:80" in dnat.title
    assert any(t.endswith("--dport 80 -j ACCEPT") for t in titles(r))
    assert r.hops[-1].title == "delivered to web (172.17.0.4)"
    assert r.delivered_as is not None and (r.delivered_as.dst, r.delivered_as.dport) == (
        "172.17.0.4",
        80,
    )
    assert any("undoes the DNAT: source 172.17.0.4 -> 198.51.100.1" in h.title for h in r.reply)


def test_ip_forward_off_stops_forwarded_packets(lab: Snapshot) -> None:
    off = copy.deepcopy(lab)
    off.sysctls["net.ipv4.ip_forward"] = "0"
    r = path(off, "test1", "203.0.113.1")
    assert r.verdict == "forwarding-disabled"
    assert not any("FORWARD" in t for t in titles(r))
    assert path(off, "test1", "test2").verdict == "delivered"  # bridged: no forwarding


def test_a_drop_in_docker_user_decides_first(lab: Snapshot) -> None:
    snap = with_rule(lab, "-A DOCKER-USER -s 172.17.0.2/32 -p icmp -j DROP")
    r = path(snap, "test1", "203.0.113.1")
    assert r.verdict == "dropped" and r.rule == "rule:added"
    assert path(snap, "test2", "203.0.113.1").verdict == "delivered"
    rej = with_rule(lab, "-A DOCKER-USER -j REJECT --reject-with icmp-port-unreachable")
    assert path(rej, "test1", "203.0.113.1").verdict == "rejected"


def test_a_match_it_cannot_evaluate_is_never_guessed(lab: Snapshot) -> None:
    snap = with_rule(lab, "-A DOCKER-USER -m mark --mark 0x1 -j DROP")
    r = path(snap, "test1", "203.0.113.1")
    assert r.verdict == "uncertain"
    assert r.hops[-1].kind == "uncertain"
    assert "cannot decide -m mark --mark 0x1" in r.hops[-1].title
    logged = with_rule(lab, "-A DOCKER-USER -m mark --mark 0x1 -j LOG")
    assert path(logged, "test1", "203.0.113.1").verdict == "delivered"


def test_container_to_the_hosts_published_port_reaches_docker_proxy(lab: Snapshot) -> None:
    r = path(lab, "test1", "host:8080")
    assert r.packet.dst == "172.17.0.1"
    assert r.verdict == "delivered"
    assert "docker-proxy" in r.hops[-1].title
    assert not any(h.kind == "nat" for h in r.hops)  # DOCKER: -i docker0 -j RETURN first


def test_host_to_published_port_is_dnated_in_nat_output(lab: Snapshot) -> None:
    r = path(lab, "host", "192.0.2.2:8080")
    assert r.verdict == "delivered"
    dnat = next(h for h in r.hops if h.kind == "nat")
    assert dnat.title.startswith("nat OUTPUT (nft): DNAT")
    assert r.hops[-1].title == "delivered to web (172.17.0.4)"


def test_unknown_names_list_close_matches(lab: Snapshot) -> None:
    with pytest.raises(UnknownName) as err:
        path(lab, "tset1", "test2")
    assert "test1" in err.value.matches
    with pytest.raises(ValueError, match="needs a port"):
        path(lab, "test1", "test2", "tcp")


def test_internal_network_has_no_way_out(lab: Snapshot) -> None:
    snap = copy.deepcopy(lab)
    db = next(c for c in snap.containers if c.name == "db")
    assert db.inside is not None
    db.inside.routes = [r for r in db.inside.routes if r.dst != "default"]
    for net in snap.networks:
        if net.name == "nxlab":
            net.internal = True
    r = path(snap, "db", "internet")
    assert r.verdict == "internal"
    assert "internal network" in r.sentence


def test_native_nftables_docker_bridges(lab: Snapshot) -> None:
    snap = copy.deepcopy(lab)
    doc = json.loads((NFT / "netns-docker-bridges.json").read_text())
    snap.rules, snap.chains, _ = parse_ruleset(doc, (NFT / "netns-docker-bridges.txt").read_text())
    r = path(snap, "test1", "203.0.113.1")
    assert r.verdict == "delivered"
    decided = [h.title for h in r.hops if h.kind in ("rule", "nat")]
    assert decided == [
        'nft docker-bridges filter-FORWARD: ACCEPT by counter accept comment "OUTGOING"',
        'nft docker-bridges nat-POSTROUTING: MASQUERADE by oifname != "docker0" ip saddr '
        '172.17.0.0/16 counter masquerade comment "MASQUERADE" -> source 198.51.100.1',
    ]
    trail = next(h for h in r.hops if h.kind == "rule").trail
    assert [next(x.text for x in snap.rules if x.key == k) for k in trail] == [
        "iifname vmap @filter-forward-out-jumps",
        'counter accept comment "OUTGOING"',
    ]
    assert any("ct state established,related" in h.title for h in r.reply)
    r = path(snap, "198.51.100.2", "host:8080")
    assert r.verdict == "delivered"
    assert any('dnat to 172.17.0.4:80 comment "DNAT"' in h.title for h in r.hops)
    assert path(snap, "test1", "test2").verdict == "delivered"


def test_rule_spec_keeps_each_match_module_and_goto() -> None:
    spec = parse_rule_spec("-A X -p tcp -m tcp ! --dport 80 -m addrtype --dst-type LOCAL -g Y")
    assert spec.goto
    assert [m.name for m in spec.modules] == ["tcp", "addrtype"]
    dport = spec.modules[0].get("--dport")
    assert dport is not None and dport.negated and dport.value == "80"


def test_cli_exit_codes_and_literal_text(lab: Snapshot, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["path", "--snapshot", str(LAB), "test1", "203.0.113.1"]) == 0
    out = capsys.readouterr().out
    assert "MASQUERADE" in out and "nx-inet0" in out and "counters" in out
    assert main(["path", "--snapshot", str(LAB), "test1", "db"]) == 3
    assert main(["path", "--snapshot", str(LAB), "tset1", "db"]) == 4
    assert "test1" in capsys.readouterr().err
    assert main(["path", "--snapshot", str(LAB), "--json", "test1", "test2"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "delivered" and doc["hops"][0]["kind"] == "route"
