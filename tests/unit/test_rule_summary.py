"""The compact form of a rule, on every rule recorded from the three backends.

iptables-nft and iptables-legacy rules come from the recorded snapshots and
``*-save -c`` outputs (the lab, the network modes, Docker 28's layout, the variety
ruleset); Docker's native nftables rules from the recorded ``nft -j`` output of
the docker-bridges fixture.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netexplorer.collect.firewall import LEGACY, NFT, NFTABLES
from netexplorer.collect.firewall import nft_parse as nparse
from netexplorer.collect.firewall.iptables_save import parse_iptables_save_with_problems
from netexplorer.model import Rule
from netexplorer.rule_summary import ARROW, summary, verb
from netexplorer.snapshot_io import load_snapshot
from netexplorer.ui.sources import demo_path

RECORDED = Path(__file__).resolve().parents[1] / "recorded"


def save_outputs() -> list[Rule]:
    rules: list[Rule] = []
    for path in sorted(RECORDED.glob("*/*-save-c*.txt")):
        backend = LEGACY if "legacy" in path.name else NFT
        family = "ipv6" if "ip6tables" in path.name.split("-save")[0] else "ipv4"
        found, _, _ = parse_iptables_save_with_problems(path.read_text(), backend, family)
        rules += found
    return rules


def nft_native_rules() -> list[Rule]:
    rules: list[Rule] = []
    for name in ("netns-docker-bridges", "netns-docker-bridges-and-iptables-nft"):
        doc = json.loads((RECORDED / "nft-native" / f"{name}.json").read_text())
        listing = (RECORDED / "nft-native" / f"{name}.txt").read_text()
        found, _, _ = nparse.parse_ruleset(doc, listing)
        rules += found
    return rules


def all_recorded_rules() -> list[Rule]:
    rules = list(load_snapshot(demo_path()).rules)
    for path in sorted(RECORDED.glob("*/*.snapshot.json")):
        rules += load_snapshot(path).rules
    return rules + save_outputs() + nft_native_rules()


RULES = all_recorded_rules()


def demo_rule(text: str) -> Rule:
    return next(r for r in load_snapshot(demo_path()).rules if r.text == text)


def test_every_backend_is_among_the_recorded_rules() -> None:
    assert {r.backend for r in RULES} == {NFT, LEGACY, NFTABLES}
    assert len(RULES) > 500


def test_the_three_forms_the_operator_reads() -> None:
    masq = demo_rule("-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE")
    assert summary(masq) == "MASQUERADE 172.17.0.0/16 → !docker0"
    dnat = demo_rule(
        "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.4:80"
    )
    assert summary(dnat) == "DNAT :8080 → 172.17.0.4:80"
    accept = next(r for r in RULES if r.text == "-A DOCKER-FORWARD -i docker0 -j ACCEPT")
    assert summary(accept) == "ACCEPT docker0 → any"


def test_native_nftables_rules_read_like_iptables_ones() -> None:
    by_text = {r.text: summary(r) for r in nft_native_rules() if r.chain.endswith("docker0")}
    by_text |= {r.text: summary(r) for r in nft_native_rules() if "__" not in r.chain}
    masq = 'oifname != "docker0" ip saddr 172.17.0.0/16 counter masquerade comment "MASQUERADE"'
    assert by_text[masq] == "MASQUERADE 172.17.0.0/16 → !docker0"
    dnat = 'iifname != "docker0" tcp dport 8080 counter dnat to 172.17.0.4:80 comment "DNAT"'
    assert by_text[dnat] == "DNAT :8080 → 172.17.0.4:80"
    # a per-bridge chain's rule applies to its bridge only: the summary says so
    assert by_text['counter accept comment "OUTGOING"'] == 'ACCEPT docker0 → any "OUTGOING"'
    assert by_text["oifname vmap @filter-forward-in-jumps"] == (
        "vmap oifname @filter-forward-in-jumps"
    )


def test_ipv6_destination_with_port_is_bracketed() -> None:
    v6 = [r for r in RULES if r.target == "ACCEPT" and r.destination == "fd00::2/128"]
    assert v6 and all("[fd00::2]:80" in summary(r) for r in v6)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.backend}:{r.chain}:{r.position}")
def test_every_recorded_rule_leads_with_what_it_does_and_names_its_conditions(
    rule: Rule,
) -> None:
    text = summary(rule)
    assert text and "\n" not in text
    if rule.target.upper() in ("DNAT", "SNAT", "MASQUERADE", "REDIRECT"):
        assert text.startswith(rule.target.upper() + " ")
    else:
        assert text.startswith(verb(rule))
    to = rule.target_options.get("--to-destination") or rule.target_options.get("--to-source")
    if to:
        assert to in text.split(ARROW, 1)[1]
    for value, negated in (
        (rule.source, rule.source_negated),
        (rule.destination, rule.destination_negated),
    ):
        if value:
            host = value.removesuffix("/32").removesuffix("/128")
            assert ("!" if negated else "") + host in text.replace("[", "").replace("]", "")
    if rule.target.upper() not in ("DNAT", "REDIRECT"):
        for name, negated in ((rule.in_interface, rule.in_negated),):
            if name:
                assert ("!" if negated else "") + name in text
        if rule.out_interface:
            assert ("!" if rule.out_negated else "") + rule.out_interface in text
    if rule.dport:
        assert f":{rule.dport}" in text
