"""IPsec of encrypted overlays (netexplorer.ipsec): ``ip xfrm`` parsed without key
bytes, and the VNI read out of Docker's ``u32`` rules.

``esp.state.txt`` / ``esp.policy.txt`` are real ``ip xfrm state`` / ``ip xfrm
policy`` output of Debian 12's 6.1 kernel (tests/recorded/ipsec/record_esp.py, run in
the kernel VM: this host's kernel has no esp4): the two ESP states and the policy
Docker's overlay driver programs on node 1 of a two-node encrypted overlay, with a
random key that the recording replaced by a fixed placeholder (``esp.facts.json``
says what was programmed). ``probe.policy.txt`` is this host's own ``ip xfrm
policy`` of an older probe (record.py), and ``probe.state-error.txt`` what this
kernel answers an ESP state with.

``node1.snapshot.json`` and ``truth.json`` are node 1 of the lab's two-node swarm
with the encrypted overlay nxsecure (record.py): ``docker network inspect``, the
host's ``iptables-save`` lines with a u32 match, ``ip xfrm`` (no state: no esp4 on
this kernel) and the failed ping se1 -> se2, against which the read, the
correlation's links, the doctor and the path are checked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as hs

from netexplorer.analysis import analyse
from netexplorer.collect.xfrm_source import wants_xfrm
from netexplorer.correlate import Correlation, correlate
from netexplorer.doctor import diagnose
from netexplorer.ipsec import DOCKER_ESP_MARK, parse_xfrm_policies, parse_xfrm_states, rule_vni
from netexplorer.model import Rule, Snapshot, XfrmState, as_plain
from netexplorer.path import trace_path
from netexplorer.snapshot_io import load_snapshot, snapshot_from_dict, snapshot_to_dict
from netexplorer.ui.panes.details import describe

HERE = Path(__file__).resolve().parents[1] / "recorded" / "ipsec"
#: a read recorded before ``ip xfrm`` was read, with overlays but none encrypted
OLDER = HERE.parent / "path" / "lab-nft.snapshot.json"

STATE_TEXT = (HERE / "esp.state.txt").read_text()
POLICY_TEXT = (HERE / "esp.policy.txt").read_text()
FACTS = json.loads((HERE / "esp.facts.json").read_text())
PLACEHOLDER: str = FACTS["key_placeholder"]


def test_the_recorded_policy_is_dockers_mark_through_esp_to_the_peer() -> None:
    (policy,) = parse_xfrm_policies(POLICY_TEXT)
    node1, node2 = FACTS["node1"], FACTS["node2"]
    assert (policy.src, policy.dst, policy.dir) == (f"{node1}/32", f"{node2}/32", "out")
    assert (policy.selector_proto, policy.selector_dport) == ("udp", FACTS["dport"])
    assert (
        (policy.mark, policy.mark_mask)
        == (DOCKER_ESP_MARK, 0xFFFFFFFF)
        == (FACTS["mark"], 0xFFFFFFFF)
    )
    assert (policy.tmpl_src, policy.tmpl_dst) == (node1, node2)
    assert (policy.tmpl_proto, policy.tmpl_spi, policy.tmpl_mode) == (
        "esp", FACTS["spi_forward"], "transport",
    )  # fmt: skip


def test_this_hosts_probe_policy_and_refused_esp_state() -> None:
    (policy,) = parse_xfrm_policies((HERE / "probe.policy.txt").read_text())
    assert (policy.mark, policy.tmpl_proto, policy.tmpl_spi) == (DOCKER_ESP_MARK, "esp", 0x1000)
    assert "algorithm not found" in (HERE / "probe.state-error.txt").read_text()


def test_the_recording_holds_the_placeholder_and_no_other_key() -> None:
    key_lines = [ln for ln in STATE_TEXT.splitlines() if ln.strip().startswith("aead ")]
    assert len(key_lines) == 2
    assert all(ln.split()[2] == PLACEHOLDER for ln in key_lines)
    assert re.findall(r"0x[0-9a-f]{16,}", STATE_TEXT + POLICY_TEXT) == [PLACEHOLDER] * 2


def test_real_states_keep_names_spi_reqid_and_never_the_key() -> None:
    forward, reverse = parse_xfrm_states(STATE_TEXT)
    node1, node2 = FACTS["node1"], FACTS["node2"]
    assert (forward.src, forward.dst, forward.proto, forward.spi, forward.reqid, forward.mode) == (
        node1, node2, "esp", FACTS["spi_forward"], FACTS["reqid"], "transport",
    )  # fmt: skip
    assert (reverse.src, reverse.dst, reverse.spi) == (node2, node1, FACTS["spi_reverse"])
    for state in (forward, reverse):
        assert state.algorithms == [f"aead {FACTS['aead']}"]
        assert (state.mark, state.mark_mask) == (None, None)  # Docker's states carry no mark
    assert PLACEHOLDER[2:10] not in repr(as_plain([forward, reverse]))


@settings(max_examples=200, deadline=None)
@given(hs.binary(min_size=20, max_size=36))
def test_no_key_put_in_the_real_text_survives_parsing(key: bytes) -> None:
    """The real text with any key (of rfc4106's and other lengths) in place of the
    placeholder: the parsed states, as the snapshot writes them, never hold it."""
    text = STATE_TEXT.replace(PLACEHOLDER, "0x" + key.hex())
    states = parse_xfrm_states(text)
    assert [s.spi for s in states] == [FACTS["spi_forward"], FACTS["spi_reverse"]]
    dumped = repr(as_plain(states))
    assert key.hex() not in dumped and key.hex()[:16] not in dumped


@settings(max_examples=300, deadline=None)
@given(hs.text())
def test_parsers_never_raise_on_any_text(text: str) -> None:
    parse_xfrm_states(text)
    parse_xfrm_policies(text)


@settings(max_examples=300, deadline=None)
@given(
    hs.lists(
        hs.sampled_from(
            [*STATE_TEXT.splitlines(), *POLICY_TEXT.splitlines(), "mark", "proto", "src", " x"]
        )
    )
)
def test_parsers_never_raise_on_shuffled_lines(lines: list[str]) -> None:
    text = "\n".join(lines)
    parse_xfrm_states(text)
    parse_xfrm_policies(text)
    assert PLACEHOLDER[2:10] not in repr(as_plain(parse_xfrm_states(text)))


def rule(text: str) -> Rule:
    return Rule("iptables-nft", "ipv4", "mangle", "OUTPUT", 1, text)


def test_rule_vni_reads_dockers_u32_match_as_saved_and_as_written() -> None:
    saved = (
        '-A OUTPUT -p udp -m udp --dport 4789 -m u32 --u32 "0x0>>0x16&0x3c@0xc&0xffffff00'
        '=0x100100" -j MARK --set-xmark 0xd0c4e3/0xffffffff'
    )
    written = "-A OUTPUT -p udp --dport 4789 -m u32 --u32 0>>22&0x3C@12&0xFFFFFF00=1048832 -j MARK"
    assert rule_vni(rule(saved)) == 0x1001 == rule_vni(rule(written))
    assert rule_vni(rule("-A OUTPUT -p udp --dport 4789 -j ACCEPT")) is None


def test_older_reads_load_without_ipsec_and_a_read_with_it_round_trips() -> None:
    # a read recorded before xfrm was (the lab with nxoverlay, tests/recorded/path)
    old = load_snapshot(OLDER)
    assert (old.xfrm_read, old.xfrm_states, old.xfrm_policies) == (False, [], [])
    old.xfrm_states = parse_xfrm_states(STATE_TEXT)
    old.xfrm_policies = parse_xfrm_policies(POLICY_TEXT)
    old.xfrm_read = True
    back = snapshot_from_dict(snapshot_to_dict(old))
    assert (back.xfrm_read, back.xfrm_states, back.xfrm_policies) == (
        True, old.xfrm_states, old.xfrm_policies,
    )  # fmt: skip


# ------------------------------------------- the lab's swarm with nxsecure (record.py)
TRUTH = json.loads((HERE / "truth.json").read_text())
PEER = "198.51.100.18"
NODE1 = "198.51.100.17"


def recorded() -> tuple[Snapshot, Correlation]:
    snap = load_snapshot(HERE / "node1.snapshot.json")
    return snap, correlate(snap)


def test_the_recorded_networks_are_encrypted_as_docker_inspect_says() -> None:
    snap, _ = recorded()
    for name, doc in TRUTH["inspect"].items():
        net = next(n for n in snap.networks if n.name == name)
        assert net.encrypted is ("encrypted" in (doc["Options"] or {}))
        assert str(net.vni) == doc["Options"]["com.docker.network.driver.overlay.vxlanid_list"]
    assert [n.name for n in snap.networks if n.encrypted] == ["nxsecure"]


def test_dockers_vni_rules_as_iptables_save_printed_them_are_linked_to_the_network() -> None:
    snap, corr = recorded()
    saved = TRUTH["u32_rules"]["mangle"] + TRUTH["u32_rules"]["filter"]
    assert len(saved) == 3  # MARK in mangle OUTPUT; DROP plaintext, ACCEPT ipsec in INPUT
    secure = next(n for n in snap.networks if n.name == "nxsecure")
    plain = next(n for n in snap.networks if n.name == "nxoverlay")
    related = corr.links.related(secure.key)
    assert {r.text for r in snap.rules if r.key in related and r.netns is None} >= set(saved)
    assert all(rule_vni(r) == secure.vni for r in snap.rules if r.text in saved)
    assert not [r for r in snap.rules if r.key in corr.links.related(plain.key) and "u32" in r.text]


def test_the_recorded_ipsec_read_is_what_ip_xfrm_showed() -> None:
    snap, _ = recorded()
    assert snap.xfrm_read and TRUTH["xfrm_states"] == [] == snap.xfrm_states
    assert snap.xfrm_policies == parse_xfrm_policies(TRUTH["xfrm_policy"])
    (policy,) = snap.xfrm_policies
    assert (policy.mark, policy.tmpl_dst, policy.tmpl_proto) == (DOCKER_ESP_MARK, PEER, "esp")


def test_doctor_no_sa_with_the_peer_is_the_dropped_traffic_the_lab_saw() -> None:
    snap, corr = recorded()
    assert TRUTH["ping_se1_se2"] is False  # se1 could not reach se2 across nxsecure
    found = diagnose(snap, corr, checks=("overlay-ipsec", "overlay-ports"))
    assert [f.id for f in found] == [f"overlay-ipsec:nxsecure:{PEER}"]
    (f,) = found
    drop = next(s for s in TRUTH["u32_rules"]["filter"] if s.endswith("-j DROP"))
    assert f"dropped by Docker's INPUT rule for plaintext VXLAN (VNI 4098): {drop}" in f.detail
    assert "esp4" in f.fix and "ip xfrm state" in f.fix
    assert {r.key for r in snap.rules if r.text == drop} <= set(f.evidence)


def test_doctor_is_silent_with_an_esp_state_each_way_and_speaks_when_one_is_missing() -> None:
    snap, corr = recorded()
    # the states Docker programs for this pair of nodes, as the 6.1 kernel printed them
    snap.xfrm_states = parse_xfrm_states(STATE_TEXT)
    assert {(x.src, x.dst) for x in snap.xfrm_states} == {(NODE1, PEER), (PEER, NODE1)}
    assert diagnose(snap, corr, checks=("overlay-ipsec",)) == []
    snap.xfrm_states.pop()
    (f,) = diagnose(snap, corr, checks=("overlay-ipsec",))
    assert "no IPsec SA from it with" in f.title


def test_doctor_esp_dropped_on_input_while_an_encrypted_overlay_has_peers() -> None:
    snap, _ = recorded()
    drop = Rule("iptables-nft", "ipv4", "filter", "INPUT", 1, "-A INPUT -p esp -j DROP",
                target="DROP", protocol="esp")  # fmt: skip
    drop.id = "esp-drop"
    snap.rules.insert(0, drop)
    found = diagnose(snap, correlate(snap), checks=("overlay-ipsec",))
    assert "overlay-ipsec:iptables-nft:esp" in [f.id for f in found]


def test_no_ipsec_read_and_no_finding_without_an_encrypted_overlay() -> None:
    snap = load_snapshot(OLDER)  # overlays ingress and nxoverlay, none encrypted
    assert any(n.driver == "overlay" for n in snap.networks)
    assert not wants_xfrm(snap) and not snap.xfrm_read
    assert diagnose(snap, correlate(snap), checks=("overlay-ipsec",)) == []
    recorded_snap, _ = recorded()
    assert wants_xfrm(recorded_snap)


# ---------------------------------------------------------------- the path (recorded)
def plaintext_drop() -> str:
    line: str = next(s for s in TRUTH["u32_rules"]["filter"] if s.endswith("-j DROP"))
    return line


def test_path_on_the_encrypted_overlay_names_the_missing_esp_and_the_plaintext_drop() -> None:
    snap, corr = recorded()
    res = trace_path(snap, corr, "se1", "10.201.0.12")
    tunnel = next(h.title for h in res.hops if h.kind == "tunnel")
    assert f"no ESP state to {PEER}: it leaves in plaintext" in tunnel
    # one host's read: the reply arriving from node 2 meets the plaintext drop here
    assert res.reply_verdict == "dropped"
    assert plaintext_drop() in res.sentence
    assert f"no ESP state from {PEER}" in res.sentence


def test_the_plain_overlay_is_not_caught_by_the_encrypted_vnis_rules() -> None:
    snap, corr = recorded()
    res = trace_path(snap, corr, "sw1", "10.200.0.12")
    assert res.reply_verdict == "delivered", res.sentence


def test_with_an_esp_state_each_way_the_reply_is_accepted_through_ipsec() -> None:
    snap, corr = recorded()
    # the states Docker programs for this pair of nodes, as the 6.1 kernel printed them
    snap.xfrm_states = parse_xfrm_states(STATE_TEXT)
    assert {(x.src, x.dst) for x in snap.xfrm_states} == {(NODE1, PEER), (PEER, NODE1)}
    res = trace_path(snap, corr, "se1", "10.201.0.12")
    tunnel = next(h.title for h in res.hops if h.kind == "tunnel")
    assert f"sent in ESP (IPsec) to {PEER}" in tunnel
    assert res.reply_verdict == "delivered", res.sentence


def test_a_read_without_the_ipsec_states_leaves_the_policy_match_undecided() -> None:
    snap, corr = recorded()
    snap.xfrm_read = False
    res = trace_path(snap, corr, "se1", "10.201.0.12")
    assert res.reply_verdict == "uncertain" and "-m policy --dir in --pol none" in res.sentence


def test_the_networks_details_name_the_missing_esp_state_per_node() -> None:
    snap, _ = recorded()
    secure = next(n for n in snap.networks if n.name == "nxsecure")
    peer = next(p for p in secure.peers if p.ip == PEER)
    text = describe(secure.key, analyse(snap)).plain
    assert f"IPsec with {peer.name} {PEER}: no ESP state: its traffic is dropped" in text
    snap.xfrm_states = [XfrmState("198.51.100.17", PEER, "esp", 0x1000, 1, "transport")]
    text = describe(secure.key, analyse(snap)).plain
    assert f"IPsec with {peer.name} {PEER}: out SPI 0x1000" in text
