"""Rules and chains read in another network namespace: ``Rule.netns``/``Chain.netns``,
their ids, and their place in the snapshot JSON (``DockerNamespace.rules``,
``NetnsView.rules``); older recordings, which have no such fields, still load."""

from __future__ import annotations

import json
from pathlib import Path

from netexplorer.collect.firewall.iptables_save import parse_iptables_save_with_problems
from netexplorer.model import (
    NFT,
    Container,
    DockerNamespace,
    NetnsView,
    Snapshot,
    rule_id,
)
from netexplorer.snapshot_io import load_snapshot, snapshot_from_dict, snapshot_to_json

RECORDED = Path(__file__).parent.parent / "recorded"
SAVE = RECORDED / "firewall" / "host-iptables-nft-save-c.txt"


def test_host_rule_ids_are_unchanged_in_old_recordings() -> None:
    """A host rule's id hashes what it always hashed: every id written by an older
    netexplorer (tests/recorded/lab) is what rule_id gives today with netns None."""
    snap = load_snapshot(RECORDED / "lab" / "nft.snapshot.json")
    assert snap.rules
    for rule in snap.rules:
        assert rule.netns is None
        _, _, occurrence = rule.id.partition("-")
        again = rule_id(
            rule.backend, rule.family, rule.table, rule.chain, rule.text, int(occurrence or 1)
        )
        assert again == rule.id


def test_netns_is_set_and_part_of_the_id() -> None:
    text = SAVE.read_text()
    host_rules, host_chains, _ = parse_iptables_save_with_problems(text, NFT, "ipv4")
    rules, chains, problems = parse_iptables_save_with_problems(
        text, NFT, "ipv4", netns="ingress_sbox"
    )
    assert not problems
    assert [r.text for r in rules] == [r.text for r in host_rules]
    assert {r.netns for r in rules} == {"ingress_sbox"}
    assert {c.netns for c in chains} == {"ingress_sbox"}
    assert {r.netns for r in host_rules} == {None}
    assert {c.netns for c in host_chains} == {None}
    # the same rule text in two namespaces (and on the host) has three ids
    other, _, _ = parse_iptables_save_with_problems(text, NFT, "ipv4", netns="ct:abc")
    ids = [r.id for r in (*host_rules, *rules, *other)]
    assert len(set(ids)) == len(ids) == 3 * len(host_rules)


def test_problem_lines_name_the_namespace() -> None:
    _, _, problems = parse_iptables_save_with_problems("*nat\n-A\n", NFT, "ipv4", netns="lb_abc123")
    assert len(problems) == 1
    assert "in namespace lb_abc123" in problems[0]


def _snapshot_with_namespace_rules() -> Snapshot:
    text = SAVE.read_text()
    ns_rules, ns_chains, _ = parse_iptables_save_with_problems(text, NFT, "ipv4", "ingress_sbox")
    ct_rules, ct_chains, _ = parse_iptables_save_with_problems(text, NFT, "ipv4", "ct:" + "a" * 64)
    return Snapshot(
        host="h",
        containers=[
            Container(
                id="a" * 64,
                name="task",
                image="busybox",
                state="running",
                network_mode="default",
                inside=NetnsView(rules=ct_rules, chains=ct_chains),
            )
        ],
        namespaces=[
            DockerNamespace(
                name="ingress_sbox",
                kind="ingress_sbox",
                path="/var/run/docker/netns/ingress_sbox",
                rules=ns_rules,
                chains=ns_chains,
            )
        ],
    )


def test_namespace_rules_survive_the_json() -> None:
    snap = _snapshot_with_namespace_rules()
    doc = json.loads(snapshot_to_json(snap))
    ns_doc = doc["namespaces"][0]
    assert ns_doc["rules"][0]["netns"] == "ingress_sbox"
    assert ns_doc["chains"][0]["netns"] == "ingress_sbox"
    assert doc["containers"][0]["inside"]["rules"][0]["netns"] == "ct:" + "a" * 64
    again = snapshot_from_dict(doc)
    assert again.namespaces == snap.namespaces
    assert again.containers[0].inside == snap.containers[0].inside


def test_documents_without_the_fields_load() -> None:
    """A file written before these fields existed: no ``netns`` on rules and chains,
    no ``rules``/``chains`` in namespaces and containers' ``inside``."""
    doc = json.loads(snapshot_to_json(_snapshot_with_namespace_rules()))
    for ns in doc["namespaces"]:
        del ns["rules"], ns["chains"]
    for ct in doc["containers"]:
        del ct["inside"]["rules"], ct["inside"]["chains"]
    for rule in doc["rules"]:
        rule.pop("netns", None)
    snap = snapshot_from_dict(doc)
    assert snap.namespaces[0].rules == [] and snap.namespaces[0].chains == []
    inside = snap.containers[0].inside
    assert inside is not None and inside.rules == [] and inside.chains == []


def test_every_recorded_snapshot_still_loads() -> None:
    """Every snapshot recorded by an older netexplorer (none has these fields) loads."""
    files = [
        p
        for p in RECORDED.rglob("*.json")
        if (p.name.endswith("snapshot.json") or p.parent.name == "snapshots")
        # recorded with the fields
        and not {"ingress", "ipsec", "swarm"} & set(p.relative_to(RECORDED).parts)
    ]
    files.append(Path(__file__).parents[2] / "netexplorer" / "demo" / "lab-snapshot.json")
    assert len(files) >= 5
    for path in files:
        snap = load_snapshot(path)
        for ns in snap.namespaces:
            assert ns.rules == [] and ns.chains == []
        for ct in snap.containers:
            assert ct.inside is None or ct.inside.rules == []
