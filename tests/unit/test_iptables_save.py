"""parse_iptables_save on outputs recorded on the development host (tests/recorded/firewall)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netexplorer.collect.errors import SourceError
from netexplorer.collect.firewall import (
    LEGACY,
    NFT,
    FirewallData,
    both_backends_warning,
    collect_firewall,
)
from netexplorer.collect.firewall.iptables_save import (
    parse_iptables_save,
    parse_iptables_save_with_problems,
)
from netexplorer.model import Chain, Rule, rule_id

RECORDED = Path(__file__).parent.parent / "recorded" / "firewall"


def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


def rule_lines(text: str) -> list[str]:
    """The rule lines of a save output, counter prefix removed."""
    out = []
    for line in text.splitlines():
        if line.startswith("["):
            line = line[line.index("]") + 2 :]
        if line.startswith("-A "):
            out.append(line)
    return out


@pytest.fixture(scope="module")
def host_nft() -> tuple[list[Rule], list[Chain]]:
    return parse_iptables_save(recorded("host-iptables-nft-save-c.txt"), NFT, "ipv4")


def one(rules: list[Rule], text: str) -> Rule:
    found = [r for r in rules if r.text == text]
    assert len(found) == 1, text
    return found[0]


def test_masquerade_rule(host_nft: tuple[list[Rule], list[Chain]]) -> None:
    rules, _ = host_nft
    r = one(rules, "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE")
    assert (r.backend, r.family, r.table, r.chain) == (NFT, "ipv4", "nat", "POSTROUTING")
    assert r.target == "MASQUERADE" and r.target_options == {}
    assert r.source == "172.17.0.0/16" and not r.source_negated
    assert r.out_interface == "docker0" and r.out_negated
    assert r.in_interface is None and r.destination is None and r.protocol is None
    assert r.position == 2


def test_dnat_rule(host_nft: tuple[list[Rule], list[Chain]]) -> None:
    rules, _ = host_nft
    text = (
        "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.4:80"
    )
    r = one(rules, text)
    assert (r.table, r.chain, r.position) == ("nat", "DOCKER", 3)
    assert r.target == "DNAT"
    assert r.target_options == {"--to-destination": "172.17.0.4:80"}
    assert r.in_interface == "docker0" and r.in_negated
    assert r.protocol == "tcp" and not r.protocol_negated
    assert r.matches == ["tcp"] and r.dport == "8080" and r.sport is None


def test_filter_docker_accept(host_nft: tuple[list[Rule], list[Chain]]) -> None:
    rules, _ = host_nft
    text = "-A DOCKER -d 172.17.0.4/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT"
    r = one(rules, text)
    assert (r.table, r.chain, r.position, r.target) == ("filter", "DOCKER", 1, "ACCEPT")
    assert r.destination == "172.17.0.4/32" and r.out_interface == "docker0"
    assert not r.out_negated and r.in_negated and r.dport == "80"


def test_positions_counts_and_order(host_nft: tuple[list[Rule], list[Chain]]) -> None:
    rules, chains = host_nft
    text = recorded("host-iptables-nft-save-c.txt")
    assert [r.text for r in rules] == rule_lines(text)
    assert len(rules) == 26
    forward = [r for r in rules if (r.table, r.chain) == ("filter", "FORWARD")]
    assert [r.position for r in forward] == list(range(1, 11))
    assert [(c.table, c.name) for c in chains][:4] == [
        ("filter", "INPUT"),
        ("filter", "FORWARD"),
        ("filter", "OUTPUT"),
        ("filter", "DOCKER"),
    ]
    by_name = {(c.table, c.name): c for c in chains}
    assert by_name[("filter", "FORWARD")].policy == "DROP"
    assert by_name[("filter", "DOCKER-USER")].policy is None
    assert by_name[("nat", "DOCKER")].policy is None


def test_ids_stable_and_unique(host_nft: tuple[list[Rule], list[Chain]]) -> None:
    rules, _ = host_nft
    assert len({r.id for r in rules}) == len(rules)
    again, _ = parse_iptables_save(recorded("host-iptables-nft-save-c.txt"), NFT, "ipv4")
    assert [r.id for r in again] == [r.id for r in rules]
    r = rules[0]
    assert r.id == rule_id(NFT, "ipv4", r.table, r.chain, r.text)
    # the same rule in the other backend is another rule
    legacy, _ = parse_iptables_save(recorded("host-iptables-nft-save-c.txt"), LEGACY, "ipv4")
    assert not {r.id for r in legacy} & {r.id for r in rules}


def test_without_counters_same_rules() -> None:
    rules, chains = parse_iptables_save(recorded("host-iptables-nft-save-c-later.txt"), NFT, "ipv4")
    assert (one(rules, "-A DOCKER-USER -j RETURN").packets, rules[0].bytes) == (8, 336)
    plain, plain_chains = parse_iptables_save(recorded("host-iptables-nft-save.txt"), NFT, "ipv4")
    assert [(r.id, r.text, r.position) for r in plain] == [
        (r.id, r.text, r.position) for r in rules
    ]
    assert len(plain_chains) == len(chains)


def test_empty_ipv6_output() -> None:
    assert parse_iptables_save(recorded("host-ip6tables-nft-save-c.txt"), NFT, "ipv6") == ([], [])


def test_counters_from_real_traffic() -> None:
    text = recorded("netns-docker-iptables-legacy-save-c.txt")
    rules, chains = parse_iptables_save(text, LEGACY, "ipv4")
    r = one(rules, "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER")
    assert (r.packets, r.bytes) == (3, 114)
    assert r.destination == "127.0.0.0/8" and r.destination_negated
    assert r.matches == ["addrtype"] and r.target == "DOCKER"
    out = next(c for c in chains if (c.table, c.name) == ("nat", "OUTPUT"))
    assert (out.policy, out.packets, out.bytes) == ("ACCEPT", 3, 114)
    host = parse_iptables_save(recorded("host-iptables-legacy-save-c.txt"), LEGACY, "ipv4")[0]
    assert one(host, "-A FORWARD -j DOCKER-USER").packets == 2


def test_variety_ipv4() -> None:
    text = recorded("netns-variety-iptables-legacy-save-c.txt")
    rules, chains, problems = parse_iptables_save_with_problems(text, LEGACY, "ipv4")
    assert problems == []
    assert [r.text for r in rules] == rule_lines(text)
    assert [c.table for c in chains if c.name == "PREROUTING"] == ["mangle", "raw"]
    web = next(r for r in rules if "multiport" in r.matches)
    assert web.matches == ["multiport", "comment"]
    assert web.dport == "22,80,443:450" and web.comment == 'web "and" ssh'
    log = next(r for r in rules if r.target == "LOG")
    assert log.sport == "!53" and log.matches == ["udp", "conntrack"]
    assert log.target_options == {"--log-prefix": "nx drop: ", "--log-level": "6"}
    frag = one(rules, "-A INPUT ! -p icmp -f -j DROP")
    assert frag.protocol == "icmp" and frag.protocol_negated
    goto = one(rules, "-A FORWARD -i veth+ ! -o eth0 -g NX-USER")
    assert goto.target == "NX-USER" and goto.in_interface == "veth+" and goto.out_negated
    assert one(rules, "-A INPUT ! -s 0.0.0.0/0 -j DROP").source_negated
    assert (
        one(
            rules,
            "-A INPUT -m comment --comment plain -j REJECT --reject-with icmp-port-unreachable",
        ).comment
        == "plain"
    )
    empty = one(rules, "-A NX-USER")
    assert empty.target == "" and empty.position == 2
    returns = [r for r in rules if r.text == "-A NX-USER -j RETURN"]
    assert [r.position for r in returns] == [3, 4]
    assert returns[1].id == returns[0].id + "-2"
    udp = one(rules, "-A INPUT -i lo -j ACCEPT")
    assert (udp.packets, udp.bytes) == (6, 312)


def test_variety_ipv6() -> None:
    text = recorded("netns-variety-ip6tables-legacy-save-c.txt")
    rules, _ = parse_iptables_save(text, LEGACY, "ipv6")
    assert [r.text for r in rules] == rule_lines(text)
    dnat = next(r for r in rules if r.target == "DNAT")
    assert dnat.family == "ipv6" and dnat.target_options == {"--to-destination": "[fd00::2]:80"}
    mask = next(r for r in rules if r.source and r.source.startswith("2001"))
    assert mask.source == "2001::/ffff:0:ffff::" and mask.source_negated


def test_malformed_lines_are_skipped_and_reported() -> None:
    text = "\n".join(
        [
            "-A ORPHAN -j ACCEPT",  # before any table
            "*filter",
            ":INPUT ACCEPT [1:2]",
            ":BROKEN",
            '[5:6] -A INPUT -m comment --comment "unbalanced -j ACCEPT',
            "[x:y] -A INPUT -j DROP",
            "garbage line",
            "[7:8] -A INPUT -m frobnicate --frob 1 --no-value -j ACCEPT --weird",
            "COMMIT",
        ]
    )
    rules, chains, problems = parse_iptables_save_with_problems(text, NFT, "ipv4")
    assert [c.name for c in chains] == ["INPUT"] and chains[0].packets == 1
    assert [r.text for r in rules] == [
        "-A INPUT -m frobnicate --frob 1 --no-value -j ACCEPT --weird"
    ]
    r = rules[0]
    assert (r.position, r.packets, r.bytes, r.matches) == (1, 7, 8, ["frobnicate"])
    assert r.target == "ACCEPT" and r.target_options == {"--weird": ""}
    assert len(problems) == 5
    assert all(p.startswith("iptables-nft ipv4 line ") for p in problems)


def test_collect_firewall_merges_and_warns() -> None:
    nft = parse_iptables_save_with_problems(recorded("host-iptables-nft-save-c.txt"), NFT, "ipv4")
    legacy = parse_iptables_save_with_problems(
        recorded("host-iptables-legacy-save-c.txt"), LEGACY, "ipv4"
    )
    data = collect_firewall({LEGACY: lambda: legacy, NFT: lambda: nft})
    assert isinstance(data, FirewallData)
    assert data.backends == [NFT, LEGACY]
    assert [r.backend for r in data.rules] == [NFT] * 26 + [LEGACY] * len(legacy[0])
    assert any("both iptables backends" in w for w in data.warnings)
    assert "stale" in both_backends_warning(NFT) and "uses iptables-nft" in both_backends_warning(
        NFT
    )


def test_collect_firewall_one_backend_failing() -> None:
    nft = parse_iptables_save_with_problems(recorded("host-iptables-nft-save-c.txt"), NFT, "ipv4")

    def broken() -> tuple[list[Rule], list[Chain], list[str]]:
        raise SourceError("python-iptables is missing.")

    data = collect_firewall({NFT: lambda: nft, LEGACY: broken})
    assert data.backends == [NFT] and data.errors == {LEGACY: "python-iptables is missing."}
    assert len(data.rules) == 26 and data.warnings == []
    with pytest.raises(SourceError, match="missing"):
        collect_firewall({NFT: broken, LEGACY: broken})


def test_missing_save_binary_names_the_package() -> None:
    from netexplorer.collect.firewall.nft import find_binary

    with pytest.raises(SourceError, match=r"Debian package 'iptables'"):
        find_binary("iptables-nft-save-not-installed")
