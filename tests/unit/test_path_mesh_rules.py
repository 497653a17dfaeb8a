"""The routing mesh's netfilter steps, walked on the rules recorded in the kernel VM
inside ingress_sbox and a service task (tests/recorded/ipvs): the MARK that picks
IPVS's firewall-mark service, ``-m ipvs --ipvs`` for the SNAT after IPVS, the
task's REDIRECT to the target port; marks and IPVS state stay undecided where the
walk does not know them (the host)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from netexplorer.collect.firewall.iptables_save import parse_iptables_save_with_problems
from netexplorer.ipvs import parse_ip_vs
from netexplorer.model import NFT, Rule
from netexplorer.path.matching import Undecided, rule_matches
from netexplorer.path.mesh import service_for
from netexplorer.path.netfilter import Firewall, local_checker, marked
from netexplorer.path.packet_state import NfPacket

RECORDED = Path(__file__).resolve().parents[1] / "recorded" / "ipvs"
SBOX = frozenset({ipaddress.ip_address(a) for a in ("172.18.0.2", "10.0.0.2", "10.0.0.3")})
TASK = frozenset({ipaddress.ip_address("10.0.0.5")})


def tables(name: str, netns: str) -> tuple[list[Rule], Firewall]:
    rules, chains, problems = parse_iptables_save_with_problems(
        (RECORDED / name).read_text(), NFT, "ipv4", netns
    )
    assert not problems
    return rules, Firewall.of_tables(rules, chains)


def packet(dst: str, dport: int, **kw: object) -> NfPacket:
    p = NfPacket(
        family=4,
        proto="tcp",
        src=ipaddress.ip_address("172.18.0.1"),
        dst=ipaddress.ip_address(dst),
        sport=40000,
        dport=dport,
        tcp_flags=frozenset({"SYN"}),
    )
    return p.at(**kw)


def test_the_mark_set_in_ingress_sbox_picks_the_firewall_mark_service() -> None:
    _, fw = tables("ingress_sbox.iptables-nft.txt", "ingress_sbox")
    pkt = packet("172.18.0.2", 8081, iif="eth1", mark=0, ipvs=False)
    outcomes = fw.run_hook("PREROUTING", pkt, local_checker(SBOX))
    mangle = outcomes[0]
    assert (mangle.chain.table, mangle.verdict, mangle.rule) == ("mangle", "ACCEPT", None)
    (mark_rule,) = mangle.trail
    assert mark_rule.text == (
        "-A PREROUTING -p tcp -m tcp --dport 8081 -j MARK --set-xmark 0x100/0xffffffff"
    )
    assert mangle.mark == 0x100 and outcomes[-1].mark == 0x100
    services = parse_ip_vs((RECORDED / "ingress_sbox.ip_vs.txt").read_text())
    found = service_for(services, pkt.at(mark=0x100))
    assert found is not None and found[0].fwmark == 0x100 and found[1] == "by the mark 0x100"
    # another port is not marked, and no service takes it
    other = fw.run_hook(
        "PREROUTING", packet("172.18.0.2", 8082, iif="eth1", mark=0), SBOX.__contains__
    )
    assert other[-1].mark == 0
    assert service_for(services, packet("172.18.0.2", 8082, mark=0)) is None


def test_the_snat_after_ipvs_matches_only_an_ipvs_connection() -> None:
    rules, fw = tables("ingress_sbox.iptables-nft.txt", "ingress_sbox")
    snat = next(r for r in rules if r.target == "SNAT" and "ipvs" in r.matches)
    is_local = local_checker(SBOX)
    to_task = packet("10.0.0.5", 8081, oif="eth0", mark=0x100)
    assert rule_matches(snat, to_task.at(ipvs=True), is_local) is True
    assert rule_matches(snat, to_task.at(ipvs=False), is_local) is False
    # where the IPVS table was not read (the host), it is not guessed
    assert isinstance(rule_matches(snat, to_task, is_local), Undecided)
    (out,) = [o for o in fw.run_hook("POSTROUTING", to_task.at(ipvs=True), is_local) if o.nat]
    assert out.rule is snat and out.nat == ("SNAT", {"--to-source": "10.0.0.2"})


def test_the_task_redirects_the_published_port_to_the_target_port() -> None:
    _, fw = tables("task-nxweb.2.iptables-nft.txt", "ct:task")
    is_local = local_checker(TASK)
    pkt = packet("10.0.0.5", 8081, iif="eth0", mark=0, ipvs=False).at(
        src=ipaddress.ip_address("10.0.0.2")
    )
    (nat,) = fw.run_hook("PREROUTING", pkt, is_local)
    assert nat.nat == ("REDIRECT", {"--to-ports": "80"}) and nat.rule is not None
    assert nat.rule.packets == 1  # the GET recorded with it went to this task
    redirected = pkt.at(dport=80, ctstate=frozenset({"NEW", "DNAT"}))
    filter_in = fw.run_hook("INPUT", redirected, is_local)[0]
    assert filter_in.verdict == "ACCEPT" and filter_in.rule is not None
    assert "--dport 80" in filter_in.rule.text
    # the published port itself, not redirected, is dropped by the task's filter
    dropped = fw.run_hook("INPUT", pkt, is_local)[0]
    assert dropped.verdict == "DROP" and dropped.rule is not None
    assert dropped.rule.text == "-A INPUT -d 10.0.0.5/32 -p tcp -j DROP"


def test_marks_as_the_mark_target_sets_them() -> None:
    rules, _ = tables("ingress_sbox.iptables-nft.txt", "ingress_sbox")
    mark_rule = next(r for r in rules if r.target == "MARK")
    assert marked(0, mark_rule) == 0x100
    assert marked(0xFFFF0001, mark_rule) == 0x100  # the mask clears every bit first
    m = Rule(NFT, "ipv4", "mangle", "X", 1, "-A X -j MARK --set-mark 0x1/0x1", "MARK")
    m.target_options = {"--set-mark": "0x1/0x1"}
    assert marked(0x10, m) == 0x11
    m.target_options = {"--set-mark": "zz"}
    assert marked(0x10, m) is None
